"""What search needs to rank every matching page in the database (documents.search).

The score of a page is its own word counts, computed by the database over all matching pages:

SQLite: an ``fts5vocab`` table of the FTS5 index in 'instance' form (one row per word occurrence:
term, doc = page id, offset), read-only and always in step with the index; counting a query's
words per page there never reads the page texts.
PostgreSQL: the tsvector as a stored generated column, with the GIN index on it in place of the
expression index of 0003. Ranking (ts_rank_cd) needs each matching page's tsvector; computing
it from the text for every match (unaccent, parse) took seconds over a couple of thousand pages.
The column is filled by PostgreSQL on every insert or update of search_text, so writing PageText
rows is still all the indexing there is.
"""

from django.db import migrations

SQLITE_UP = [
    "CREATE VIRTUAL TABLE documents_pagetext_fts_terms USING fts5vocab(documents_pagetext_fts, instance)",
]
SQLITE_DOWN = [
    "DROP TABLE IF EXISTS documents_pagetext_fts_terms",
]
POSTGRES_UP = [
    "ALTER TABLE documents_pagetext ADD COLUMN search_vector tsvector "
    "GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, ecabinet_unaccent(search_text))) STORED",
    "CREATE INDEX documents_pagetext_search_vector ON documents_pagetext USING gin (search_vector)",
    "DROP INDEX IF EXISTS documents_pagetext_fts",
]
POSTGRES_DOWN = [
    "CREATE INDEX IF NOT EXISTS documents_pagetext_fts ON documents_pagetext USING gin (to_tsvector('simple'::regconfig, ecabinet_unaccent(search_text)))",
    "DROP INDEX IF EXISTS documents_pagetext_search_vector",
    "ALTER TABLE documents_pagetext DROP COLUMN IF EXISTS search_vector",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("documents", "0003_search_index")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_UP, "postgresql": POSTGRES_UP}),
            _run({"sqlite": SQLITE_DOWN, "postgresql": POSTGRES_DOWN}),
        ),
    ]
