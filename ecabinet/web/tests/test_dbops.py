"""``ecabinet.dbops.DropPatternIndexes``: the hash columns every ballot writes keep their unique
index and lose Django's LIKE-pattern one; columns that are searched by prefix keep theirs."""

from __future__ import annotations

import pytest
from django.db import connection

from ecabinet.dbops import DropPatternIndexes

pytestmark = pytest.mark.django_db


def _indexes(table: str) -> dict[str, dict]:
    with connection.cursor() as cursor:
        return connection.introspection.get_constraints(cursor, table)


@pytest.mark.parametrize(("table", "columns"), [("voting_ballot", ["sha256", "nonce"]), ("audit_auditentry", ["entry_hash", "prev_hash"])])
def test_hash_columns_keep_their_unique_index_and_no_pattern_index(table, columns):
    indexes = _indexes(table)
    for column in columns:
        on_column = [(name, index) for name, index in indexes.items() if index["columns"] == [column]]
        assert any(index["unique"] for _, index in on_column), column  # every lookup by hash still has its index
        assert not [name for name, _ in on_column if name.endswith("_like")], column


def test_a_column_searched_by_prefix_keeps_its_pattern_index():
    # The audit filter asks for event__startswith; on PostgreSQL that needs the pattern index.
    names = [name for name, index in _indexes("audit_auditentry").items() if index["columns"] == ["event"]]
    assert any(name.endswith("_like") for name in names) == (connection.vendor == "postgresql")


def test_the_operation_describes_and_deconstructs_itself():
    operation = DropPatternIndexes("ballot", ["sha256", "nonce"])
    assert operation.deconstruct() == ("DropPatternIndexes", [], {"model_name": "ballot", "fields": ["sha256", "nonce"]})
    assert "ballot.sha256, nonce" in operation.describe()
