"""Migration operations Django does not have.

``DropPatternIndexes``: on PostgreSQL Django gives every indexed or unique ``CharField`` a second
index with ``varchar_pattern_ops``, for ``LIKE 'prefix%'`` queries. On a column that holds random
hashes and is only ever compared whole (a ballot's sha256 and nonce, an audit entry's hash and the
hash before it), that index serves no query and costs a write to a random page of it on every row:
four of them, on the two tables every ballot writes to. The unique index stays and serves every
lookup.
"""

from __future__ import annotations

from typing import Any

from django.db.migrations.operations.base import Operation


class DropPatternIndexes(Operation):
    """Drop Django's ``<table>_<column>_<hash>_like`` indexes of ``fields`` of ``model_name`` on
    PostgreSQL (nothing elsewhere; no change to the model state). Reversed, they are made again
    as Django makes them."""

    reduces_to_sql = True
    reversible = True

    def __init__(self, model_name: str, fields: list[str]) -> None:
        self.model_name, self.fields = model_name, fields

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return self.__class__.__qualname__, [], {"model_name": self.model_name, "fields": self.fields}

    def state_forwards(self, app_label: str, state: Any) -> None:
        """Nothing: the models are unchanged, only the database loses indexes Django never reads."""

    def _each(self, app_label: str, schema_editor: Any, to_state: Any) -> Any:
        if schema_editor.connection.vendor != "postgresql":
            return
        model = to_state.apps.get_model(app_label, self.model_name)
        for name in self.fields:
            field = model._meta.get_field(name)
            yield model, field, schema_editor._create_index_name(model._meta.db_table, [field.column], suffix="_like")

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        for _, _, index in self._each(app_label, schema_editor, to_state):
            schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(index)}")

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        for model, field, _ in self._each(app_label, schema_editor, to_state):
            like = schema_editor._create_like_index_sql(model, field)
            if like is not None:
                schema_editor.execute(like)

    def describe(self) -> str:
        return f"Drop the LIKE-pattern indexes of {self.model_name}.{', '.join(self.fields)} (PostgreSQL)"
