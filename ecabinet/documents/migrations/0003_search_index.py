"""Full-text index of page texts, one per database vendor, over the same folded column.

SQLite: an FTS5 table over documents_pagetext.search_text (external content), kept in step by
triggers, so writing PageText rows is all the indexing there is, as on PostgreSQL.
PostgreSQL: the unaccent extension, an IMMUTABLE wrapper (unaccent() itself is only STABLE, so it
cannot appear in an index), and a GIN index on to_tsvector('simple', ecabinet_unaccent(search_text)).
search_text is already folded by documents.core.textnorm (which also folds đ, which unaccent
alone would too but unicode61 would not); unaccent and remove_diacritics are the safety net.
"""

from django.db import migrations

SQLITE_UP = [
    "CREATE VIRTUAL TABLE documents_pagetext_fts USING fts5(search_text, content='documents_pagetext', content_rowid='id', tokenize=\"unicode61 remove_diacritics 2\")",
    "CREATE TRIGGER documents_pagetext_fts_ai AFTER INSERT ON documents_pagetext BEGIN "
    "INSERT INTO documents_pagetext_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER documents_pagetext_fts_ad AFTER DELETE ON documents_pagetext BEGIN "
    "INSERT INTO documents_pagetext_fts(documents_pagetext_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER documents_pagetext_fts_au AFTER UPDATE OF search_text ON documents_pagetext BEGIN "
    "INSERT INTO documents_pagetext_fts(documents_pagetext_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text); "
    "INSERT INTO documents_pagetext_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "INSERT INTO documents_pagetext_fts(documents_pagetext_fts) VALUES ('rebuild')",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS documents_pagetext_fts_au",
    "DROP TRIGGER IF EXISTS documents_pagetext_fts_ad",
    "DROP TRIGGER IF EXISTS documents_pagetext_fts_ai",
    "DROP TABLE IF EXISTS documents_pagetext_fts",
]
POSTGRES_UP = [
    "CREATE EXTENSION IF NOT EXISTS unaccent",
    "CREATE OR REPLACE FUNCTION ecabinet_unaccent(text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT "
    "AS $$ SELECT translate(public.unaccent('public.unaccent'::regdictionary, $1), 'đĐ', 'dD') $$",
    "CREATE INDEX documents_pagetext_fts ON documents_pagetext USING gin (to_tsvector('simple'::regconfig, ecabinet_unaccent(search_text)))",
]
POSTGRES_DOWN = [
    "DROP INDEX IF EXISTS documents_pagetext_fts",
    "DROP FUNCTION IF EXISTS ecabinet_unaccent(text)",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("documents", "0002_reader")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_UP, "postgresql": POSTGRES_UP}),
            _run({"sqlite": SQLITE_DOWN, "postgresql": POSTGRES_DOWN}),
        ),
    ]
