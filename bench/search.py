"""Search over a corpus like bench/ingest.py's (BENCH_SEARCH_DOCS, default 220 documents of 6 to 14
pages of Vietnamese text, every one in the dossier of a meeting a member attends), without running
the pipeline: the pages are written straight into the index, so this measures the query alone
("quyet dinh dat dai" as a member, the same query as bench/ingest.py; its words are on nearly every
page, the worst case for ranking).

Runs on the embedded default (SQLite in a temporary var dir), or on PostgreSQL when
ECABINET_DATABASE_URL points at one (a private database ``<name>_bench_search`` is created and
dropped).

Prints one JSON object: the median of BENCH_REPEAT runs of the whole search (first page of 20, and
the page after it; every matching document is ranked either way), of the visibility step (which documents the member may see) on its own, and the
bare limit beside them: the database's own ranked full-text query for the same words, straight on
the page table, with no access rule, grouping or snippet (``ratio`` = search / bare).
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest import DOCS, SEED, WORDS, cabinet, log  # noqa: E402
from ecabinet.meetings.tests.live_servers import private_database  # noqa: E402

DOCUMENTS = int(os.environ.get("BENCH_SEARCH_DOCS", str(DOCS)))
REPEAT = int(os.environ.get("BENCH_REPEAT", "5"))
QUERY = "quyet dinh dat dai"
LIMIT = 20


def setup_django(var_dir: Path, database_url: str | None) -> None:
    os.environ["ECABINET_VAR_DIR"] = str(var_dir)
    for name in ("ECABINET_DATABASE_URL", "ECABINET_REDIS_URL", "ECABINET_BROKER_URL", "ECABINET_CLAMD_URL"):
        os.environ.pop(name, None)
    if database_url and not database_url.startswith("sqlite"):
        os.environ["ECABINET_DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "ecabinet.settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def corpus(people: dict[str, Any], rng: random.Random) -> int:
    from ecabinet.documents import search
    from ecabinet.documents.core import textnorm
    from ecabinet.documents.models import Document, DocumentVersion, DossierEntry, PageText

    pages = 0
    for n in range(DOCUMENTS):
        title = f"Tờ trình số {n + 1}/TTr-BTC về đất đai"
        doc = Document.objects.create(title=title, owner_organisation=people["office"], created_by=people["secretary"])
        version = DocumentVersion.objects.create(
            document=doc, number=1, filename=f"{n}.pdf", uploaded_by=people["secretary"], size=1, original_sha256="0" * 64, state=DocumentVersion.State.READY
        )
        DossierEntry.objects.create(meeting=people["meeting"], item=people["item"], document=doc, order=n, added_by=people["secretary"])
        rows = []
        for number in range(1, rng.randint(6, 14) + 1):
            text = "\n".join(" ".join(rng.choice(WORDS) for _ in range(12)) for _ in range(38))
            rows.append(PageText(version=version, number=number, text=text, search_text=textnorm.search_text(text), source=PageText.Source.TEXT))
        PageText.objects.bulk_create(rows)
        version.page_count = len(rows)
        version.save(update_fields=["page_count"])
        search.index_version(version.pk)
        pages += len(rows)
        if (n + 1) % 500 == 0:
            log(f"{n + 1} documents indexed")
    return pages


def bare_ranked_pages(query: str) -> Callable[[], list[int]]:
    """The database's own ranked full-text query over every page, nothing else."""
    from django.db import connection

    from ecabinet.documents.core import textnorm

    terms = textnorm.tokens(query)
    if connection.vendor == "postgresql":
        # The stored, GIN-indexed tsvector of migration 0004 (documents.search ranks from it too).
        sql = (
            "SELECT id FROM documents_pagetext WHERE search_vector @@ to_tsquery('simple', %s) "
            "ORDER BY ts_rank(search_vector, to_tsquery('simple', %s)) DESC LIMIT %s"
        )
        words = " & ".join([*terms[:-1], f"{terms[-1]}:*"])
        params: list[Any] = [words, words, LIMIT]
    else:
        sql = "SELECT rowid FROM documents_pagetext_fts WHERE documents_pagetext_fts MATCH %s ORDER BY rank LIMIT %s"
        params = [" ".join(f'"{t}"' for t in terms[:-1]) + f' "{terms[-1]}"*', LIMIT]

    def run() -> list[int]:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return [row[0] for row in cursor.fetchall()]

    return run


def timed(fn: Callable[[], Any]) -> float:
    fn()  # warm: the first run pays for connecting and the page cache
    runs = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def measure() -> dict[str, Any]:
    from django.db import connection

    from ecabinet.documents import permissions, search

    people = cabinet()
    started = time.perf_counter()
    pages = corpus(people, random.Random(SEED))
    log(f"corpus: {DOCUMENTS} documents, {pages} pages in {time.perf_counter() - started:.1f} s")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    member = people["member"]
    first = search.search_page(member, QUERY, limit=LIMIT)
    search_s = timed(lambda: search.search_page(member, QUERY, limit=LIMIT))
    next_s = timed(lambda: search.search_page(member, QUERY, limit=LIMIT, offset=LIMIT))
    bare_s = timed(bare_ranked_pages(QUERY))
    return {
        "benchmark": "search",
        "database": connection.vendor,
        "corpus": {"documents": DOCUMENTS, "pages": pages},
        "query": QUERY,
        "limit": LIMIT,
        "hits": len(first.hits),
        "matching_documents": first.total,
        "search_seconds_median": round(search_s, 4),
        "next_page_seconds_median": round(next_s, 4),
        "visibility_seconds_median": round(timed(lambda: permissions.visible_documents(member)), 4),
        "bare": {"ranked_pages_seconds_median": round(bare_s, 4)},
        "ratio": round(search_s / bare_s, 2) if bare_s else None,
        "repeat": REPEAT,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="ecab-bench-search-") as tmp:
        work = Path(tmp)
        with private_database(work, "bench_search") as database_url:
            setup_django(work / "var", database_url)
            result = measure()
            from django.db import connections

            connections.close_all()  # before the private database is dropped
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
