"""Search over a corpus like bench/ingest.py's (220 documents of 6 to 14 pages of Vietnamese text,
every one in the dossier of a meeting a member attends), without running the pipeline: the pages
are written straight into the index, so this measures the query alone ("quyet dinh dat dai" as a
member, the same query as bench/ingest.py).

Prints one JSON object: the median of BENCH_REPEAT runs of the whole search, and of the
visibility step (which documents the member may see) on its own.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest import DOCS, SEED, WORDS, cabinet, setup_django  # noqa: E402

REPEAT = int(os.environ.get("BENCH_REPEAT", "5"))
QUERY = "quyet dinh dat dai"


def corpus(people: dict, rng: random.Random) -> int:
    from ecabinet.documents import search
    from ecabinet.documents.core import textnorm
    from ecabinet.documents.models import Document, DocumentVersion, DossierEntry, PageText

    pages = 0
    for n in range(DOCS):
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
    return pages


def timed(fn) -> float:
    runs = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="ecab-bench-search-") as tmp:
        setup_django(Path(tmp) / "var")  # the embedded default (SQLite), as bench/ingest.py
        from django.db import connection

        from ecabinet.documents import permissions, search

        people = cabinet()
        pages = corpus(people, random.Random(SEED))
        member = people["member"]
        hits = search.search(member, QUERY, limit=20)
        result = {
            "benchmark": "search",
            "database": connection.vendor,
            "corpus": {"documents": DOCS, "pages": pages},
            "query": QUERY,
            "hits": len(hits),
            "search_seconds_median": round(timed(lambda: search.search(member, QUERY, limit=20)), 4),
            "visibility_seconds_median": round(timed(lambda: permissions.visible_documents(member)), 4),
            "repeat": REPEAT,
        }
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
