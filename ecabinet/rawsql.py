"""Plain SQL for the few statements that run on every ballot: reads of model rows, and inserts.

Building a query through the ORM (filters, joins, compiling) costs several times more CPU than the
database spends answering a primary-key or unique-key lookup; in a vote burst that was most of the
server's time. These helpers build each statement once, from the models' metadata (no column
name is written by hand), run it with parameters, and turn rows back into model instances with the
same value converters the ORM applies, so a datetime is aware and a JSON field decoded on SQLite and
PostgreSQL alike. Fields not selected are deferred: reading one later loads it, as with ``.only()``.
"""

from __future__ import annotations

import functools
import inspect
import re
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.models.base import ModelState
from django.db.models.expressions import Col
from django.db.models.fields.related_descriptors import ForeignKeyDeferredAttribute
from django.db.models.query_utils import DeferredAttribute
from django.db.models.signals import post_init, pre_init

M = TypeVar("M", bound=models.Model)
T = TypeVar("T")

_lock = threading.Lock()
_converters: dict[tuple[str, type[models.Model], tuple[str, ...]], tuple[list[tuple[Col, list[Callable[..., Any]]]], bool]] = {}
_PLAIN_ATTRIBUTES = (DeferredAttribute, ForeignKeyDeferredAttribute)


class _Reused:
    """A connection's one reused plain cursor, as a context manager that leaves it open and turns
    database errors into Django's (``IntegrityError`` and so on), as Django's own cursors do."""

    __slots__ = ("cursor", "db")

    def __init__(self, cursor: Any, db: Any) -> None:
        self.cursor, self.db = cursor, db

    def __enter__(self) -> Any:
        return self.cursor

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None:
            self.db.wrap_database_errors.__exit__(exc_type, exc, tb)  # raises Django's class for a database error


_numbered: dict[str, str] = {}
_PLACEHOLDER = re.compile(r"%s")


def numbered(sql: str) -> str:
    """``sql`` with PostgreSQL's own placeholders: each ``%s`` becomes ``$1``, ``$2`` … in order.

    Made once per statement text and kept. psycopg otherwise scans the text for placeholders on
    every execution, and keeps the result only for statements under 4 kB and 50 parameters; a
    batch's statement is longer, and the scan was a tenth of a ballot's CPU. The statements here
    use ``%s`` and no other ``%``."""
    made = _numbered.get(sql)
    if made is None:
        if sql.replace("%s", "").count("%"):
            raise ValueError("plain-SQL statements use %s placeholders and no other %")
        numbers = iter(range(1, sql.count("%s") + 1))
        made = _PLACEHOLDER.sub(lambda _: f"${next(numbers)}", sql)
        with _lock:
            _numbered[sql] = made
    return made


@functools.cache
def _numbered_cursor() -> type[Any]:
    import psycopg

    class NumberedCursor(psycopg.RawCursor):  # type: ignore[type-arg]
        """psycopg's cursor for ``$n`` placeholders, given ``%s`` statements (``numbered``)."""

        def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
            return super().execute(numbered(query), params, **kwargs)

    return NumberedCursor


def cursor() -> Any:
    """A cursor for these statements, to use as ``with rawsql.cursor() as cursor:``.

    On PostgreSQL, a plain psycopg cursor that sends the parameters apart from the SQL (server-side
    binding; Django's cursors inline the parameters into the text), with the placeholders numbered
    once per statement (``numbered``), so that with the connection
    pool on (settings: ``prepare_threshold``) psycopg prepares a statement the fifth time a
    connection runs it and the server stops parsing and planning it for every ballot. It is kept
    with the connection and reused: making a cursor and going through Django's cursor
    wrapper cost more than a primary-key lookup. Elsewhere, Django's cursor. Statements run here do
    not appear in Django's query log.
    """
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor != "postgresql":
        return db.cursor()
    if db.connection is None or (db.in_atomic_block and db.needs_rollback):
        db.ensure_connection()
        db.validate_no_broken_transaction()
    raw = db.connection
    reused = getattr(db, "_rawsql_cursor", None)
    if reused is None or reused.cursor.connection is not raw or reused.cursor.closed:
        import psycopg

        plain = _numbered_cursor()(raw)
        # Django loads timestamptz with a Python subclass of psycopg's loader (to give datetimes
        # in the connection's time zone, which it sets to UTC); psycopg's own loader, in C with
        # psycopg-binary, gives the same aware datetimes in that zone at a fifth of the cost.
        loader = psycopg.adapters.get_loader(psycopg.adapters.types["timestamptz"].oid, psycopg.pq.Format.TEXT)
        if loader is not None:
            plain.adapters.register_loader("timestamptz", loader)
        reused = _Reused(plain, db)
        db._rawsql_cursor = reused  # type: ignore[attr-defined]
    return reused


_statements: dict[tuple[str, object], Any] = {}


def statement(key: object, build: Callable[[], T]) -> T:
    """``build()``, made once per database vendor and ``key`` and kept: the SQL text (and the
    field lists that go with it) of a statement that runs on every ballot."""
    full = (connection.vendor, key)
    made = _statements.get(full)
    if made is None:
        made = build()
        with _lock:
            _statements[full] = made
    return made  # type: ignore[no-any-return]


def fields_of(model: type[models.Model], names: Sequence[str] | None = None) -> list[models.Field[Any, Any]]:
    """The concrete fields called ``names`` (field names or attnames), or all of them, in the
    model's own order (the order ``Model.from_db`` reads a partial row in)."""
    concrete = list(model._meta.concrete_fields)
    if names is None:
        return concrete
    wanted = set(names)
    chosen = [f for f in concrete if f.name in wanted or f.attname in wanted]
    if len(chosen) != len(wanted):
        raise ValueError(f"not concrete fields of {model.__name__}: {sorted(wanted - {f.name for f in chosen} - {f.attname for f in chosen})}")
    return chosen


def column_list(model: type[models.Model], fields: Sequence[models.Field[Any, Any]], alias: str) -> str:
    return ", ".join(f"{alias}.{_quote(f.column)}" for f in fields)


def _quote(name: str | None) -> str:
    if not name:
        raise ValueError("a field without a column")
    return str(connection.ops.quote_name(name))


def table(model: type[models.Model]) -> str:
    return str(connection.ops.quote_name(model._meta.db_table))


def column(model: type[models.Model], name: str) -> str:
    return _quote(model._meta.get_field(name).column)  # type: ignore[union-attr]


def instance(model: type[M], fields: Sequence[models.Field[Any, Any]], values: Sequence[Any]) -> M:
    """A model instance from raw column values, converted as the ORM converts them."""
    db = connections[DEFAULT_DB_ALIAS]
    key = (db.vendor, model, tuple(f.attname for f in fields))
    made = _converters.get(key)
    if made is None:
        converters = []
        for f in fields:
            expression = Col(model._meta.db_table, f)
            converters.append((expression, [*db.ops.get_db_converters(expression), *f.get_db_converters(db)]))
        made = (converters, _plain_model(model, key[2]))
        with _lock:
            _converters[key] = made
    converters, plain = made
    converted = []
    for value, (expression, convs) in zip(values, converters, strict=True):
        for convert in convs:
            value = convert(value, expression, db)
        converted.append(value)
    if plain and not pre_init.receivers and not post_init.receivers:
        return _loaded(model, db.alias, key[2], converted)
    return model.from_db(db.alias, key[2], converted)


def _plain_model(model: type[models.Model], attnames: Sequence[str]) -> bool:
    """Whether ``Model.from_db`` would do no more for these fields than ``_loaded`` does: the model
    keeps Django's own ``__init__`` and ``from_db``, and each field's attribute is Django's plain
    one (a file field's, say, is not). The signals ``__init__`` sends are checked at each call."""
    if model.__init__ is not models.Model.__init__ or getattr(model.from_db, "__func__", None) is not models.Model.from_db.__func__:  # type: ignore[attr-defined]
        return False
    return all(type(inspect.getattr_static(model, name, None)) in _PLAIN_ATTRIBUTES for name in attnames)


def _loaded(model: type[M], alias: str, attnames: Sequence[str], values: Sequence[Any]) -> M:
    """What ``model.from_db(alias, attnames, values)`` returns, built directly: on a ballot's path
    six rows become instances, and ``Model.__init__`` (its signals, its loop over every field
    whether selected or deferred) cost more than the rest of reading them. Fields not given are
    deferred, as there: Django counts a field deferred when its value is not in the instance's
    ``__dict__``."""
    new = model.__new__(model)
    state = ModelState()
    state.adding, state.db = False, alias
    new.__dict__["_state"] = state
    new.__dict__.update(zip(attnames, values, strict=True))
    return new


def one(model: type[M], sql: str, params: Sequence[Any], fields: Sequence[models.Field[Any, Any]]) -> M | None:
    """Run ``sql`` (it selects ``fields`` of ``model``, in order) and return the first row's instance."""
    with cursor() as raw:
        raw.execute(sql, params)
        row = raw.fetchone()
    return None if row is None else instance(model, fields, row)


_by_field_sql: dict[tuple[str, type[models.Model], str, tuple[str, ...]], str] = {}


def by_field(model: type[M], field: str, value: Any, names: Sequence[str] | None = None) -> M | None:
    """``model.objects.only(*names).filter(**{field: value}).first()`` for a unique ``field``."""
    fields = fields_of(model, names)
    key = (connection.vendor, model, field, tuple(f.attname for f in fields))
    sql = _by_field_sql.get(key)
    if sql is None:
        sql = f"SELECT {column_list(model, fields, table(model))} FROM {table(model)} WHERE {column(model, field)} = %s"  # noqa: S608
        with _lock:
            _by_field_sql[key] = sql
    return one(model, sql, [value], fields)


def insert(model: type[M], objs: Sequence[M]) -> None:
    """``model.objects.bulk_create(objs)`` for new rows with an automatic primary key, in one
    statement kept per row count: compiling the insert through the ORM cost more than the
    database's work for it. Values are prepared as the ORM prepares them (``pre_save``, then
    ``get_db_prep_save``); each object gets its new primary key and counts as saved. No signals are
    sent, as with ``bulk_create``."""
    if not objs:
        return
    db = connections[DEFAULT_DB_ALIAS]
    pk = model._meta.pk
    if not isinstance(pk, models.AutoField):
        raise TypeError(f"rawsql.insert is for models with an automatic primary key, not {model.__name__}")
    fields = [f for f in model._meta.concrete_fields if f is not pk]

    def build() -> str:
        row = "(" + ", ".join(["%s"] * len(fields)) + ")"
        columns = ", ".join(_quote(f.column) for f in fields)
        return f"INSERT INTO {table(model)} ({columns}) VALUES {', '.join([row] * len(objs))} RETURNING {_quote(pk.column)}"  # noqa: S608

    sql = statement(("insert", model, len(objs)), build)
    plain = statement(("insert-plain", model), lambda: [(f.attname, _plain_values(f)) for f in fields])
    params = []
    for obj in objs:
        values = obj.__dict__
        for f, (attname, kinds) in zip(fields, plain, strict=True):
            value = values.get(attname, _MISSING)
            params.append(value if type(value) in kinds else f.get_db_prep_save(f.pre_save(obj, True), db))
    with cursor() as raw:
        raw.execute(sql, params)
        ids = [row[0] for row in raw.fetchall()]
    for obj, new_id in zip(objs, ids, strict=True):
        setattr(obj, pk.attname, new_id)
        obj._state.adding, obj._state.db = False, db.alias


# Fields whose pre_save is Field's and whose get_db_prep_save gives back a value of these exact
# types unchanged (an int, a str, a bool, None): ``insert`` passes such values as they are, as
# preparing ~25 values a ballot one field method chain at a time cost more than inserting them.
_PLAIN_VALUES: dict[type[models.Field[Any, Any]], tuple[type, ...]] = {
    **{kind: (int, type(None)) for kind in (models.AutoField, models.BigAutoField, models.IntegerField, models.BigIntegerField, models.PositiveIntegerField)},
    **{kind: (str, type(None)) for kind in (models.CharField, models.TextField)},
    models.BooleanField: (bool, type(None)),
}
_MISSING = object()


def _plain_values(field: models.Field[Any, Any]) -> tuple[type, ...]:
    """The types of value ``field`` stores unprepared (``_PLAIN_VALUES``): a foreign key's are its
    target's (it hands a value other than None to the target field)."""
    if type(field) in (models.ForeignKey, models.OneToOneField):
        field = field.target_field  # type: ignore[attr-defined]
    return _PLAIN_VALUES.get(type(field), ())


def update_by_pk(model: type[models.Model], pk: Any, **values: Any) -> int:
    """``model.objects.filter(pk=pk).update(**values)`` for plain values; the rows changed."""
    fields = fields_of(model, list(values))
    assignments = ", ".join(f"{_quote(f.column)} = %s" for f in fields)
    params = [f.get_db_prep_save(values[f.name if f.name in values else f.attname], connection) for f in fields]
    pk_column = _quote(model._meta.pk.column)  # type: ignore[union-attr]
    with cursor() as raw:
        raw.execute(f"UPDATE {table(model)} SET {assignments} WHERE {pk_column} = %s", [*params, pk])  # noqa: S608
        return int(raw.rowcount)
