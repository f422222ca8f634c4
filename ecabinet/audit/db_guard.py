"""Database triggers that make the audit tables append-only, on PostgreSQL and SQLite.

They stop the application, a stray ``.update()`` and anyone without the rights to change the
schema. Someone who owns the tables can drop the triggers; the hash chain and the signed
checkpoints are what catch that person (``ecabinet audit verify``).

Migration 0003 installed the first version of these statements; ``install`` is idempotent and
runs again after every ``migrate`` (SQLite drops a table's triggers when a migration rebuilds it)
and after ``flush``, which lifts them to empty every table at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db.backends.base.base import BaseDatabaseWrapper

TABLES = ("audit_auditentry", "audit_checkpoint")
PG_FUNCTION = "ecabinet_audit_append_only"
MESSAGE = "the audit log is append-only"

_PG_FUNCTION_SQL = f"""
CREATE OR REPLACE FUNCTION {PG_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '{MESSAGE}: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END
$$;
"""


def trigger_names(table: str, vendor: str) -> list[str]:
    if vendor == "postgresql":
        return [f"{table}_append_only", f"{table}_no_truncate"]
    return [f"{table}_no_update", f"{table}_no_delete"]


def _statements_install(vendor: str, tables: tuple[str, ...] = TABLES) -> list[str]:
    if vendor == "postgresql":
        sql = [_PG_FUNCTION_SQL]
        for table in tables:
            row, truncate = trigger_names(table, vendor)
            sql += [
                f'DROP TRIGGER IF EXISTS "{row}" ON "{table}"',
                f'CREATE TRIGGER "{row}" BEFORE UPDATE OR DELETE ON "{table}" FOR EACH ROW EXECUTE FUNCTION {PG_FUNCTION}()',
                f'DROP TRIGGER IF EXISTS "{truncate}" ON "{table}"',
                f'CREATE TRIGGER "{truncate}" BEFORE TRUNCATE ON "{table}" FOR EACH STATEMENT EXECUTE FUNCTION {PG_FUNCTION}()',
            ]
        return sql
    if vendor == "sqlite":
        sql = []
        for table in tables:
            no_update, no_delete = trigger_names(table, vendor)
            sql += [
                f'CREATE TRIGGER IF NOT EXISTS "{no_update}" BEFORE UPDATE ON "{table}" '
                f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}: UPDATE on {table} refused'); END",
                f'CREATE TRIGGER IF NOT EXISTS "{no_delete}" BEFORE DELETE ON "{table}" '
                f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}: DELETE on {table} refused'); END",
            ]
        return sql
    return []


def _statements_remove(vendor: str, tables: tuple[str, ...] = TABLES) -> list[str]:
    if vendor == "postgresql":
        return [f'DROP TRIGGER IF EXISTS "{name}" ON "{table}"' for table in tables for name in trigger_names(table, vendor)]
    if vendor == "sqlite":
        return [f'DROP TRIGGER IF EXISTS "{name}"' for table in tables for name in trigger_names(table, vendor)]
    return []


def _existing_tables(connection: BaseDatabaseWrapper) -> tuple[str, ...]:
    with connection.cursor() as cursor:
        present = set(connection.introspection.table_names(cursor))
    return tuple(t for t in TABLES if t in present)


def install(connection: BaseDatabaseWrapper) -> None:
    tables = _existing_tables(connection)
    if not tables:
        return
    with connection.cursor() as cursor:
        for statement in _statements_install(connection.vendor, tables):
            cursor.execute(statement)


def remove(connection: BaseDatabaseWrapper) -> None:
    tables = _existing_tables(connection)
    with connection.cursor() as cursor:
        for statement in _statements_remove(connection.vendor, tables):
            cursor.execute(statement)


def missing(connection: BaseDatabaseWrapper) -> list[str]:
    """Names of the guard triggers that are absent or disabled (empty when all are in force)."""
    tables = _existing_tables(connection)
    wanted = [(table, name) for table in tables for name in trigger_names(table, connection.vendor)]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE NOT t.tgisinternal AND t.tgenabled <> 'D' AND c.relname = ANY(%s) AND c.relnamespace = to_regnamespace(current_schema())",
                [list(tables)],
            )
        elif connection.vendor == "sqlite":
            cursor.execute("SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'")
        else:
            return []
        present = {(row[0], row[1]) for row in cursor.fetchall()}
    return [name for table, name in wanted if (table, name) not in present]


@contextmanager
def lifted(connection: BaseDatabaseWrapper) -> Iterator[None]:
    """Without the guards for the length of the block, then with them again, whatever happens."""
    remove(connection)
    try:
        yield
    finally:
        install(connection)
