"""Ingestion throughput and the reader's first page.

1. A corpus of generated PDFs (BENCH_DOCS, default 220 documents of 6 to 14 pages, Vietnamese text
   set in DejaVu with fpdf2) goes through the whole pipeline on the embedded default (SQLite in a
   temporary var dir): upload checks and encryption, scan (YARA), disarm (pikepdf rewrite with
   object streams, not linearised: see security.core.disarm), text extraction, thumbnails
   (encrypted), indexing (FTS5), ready + notify.
   Pages per second end to end, and the time spent in each step, with a finer breakdown
   (``breakdown_seconds``: the upload action, PDFium text vs thumbnails, blob encryption, ...).
   Wall-clock and CPU time of this process both: the machine may be shared, and CPU time is
   what the pipeline itself costs (``ratio_pipeline_to_bare_cpu``). Everything is one process,
   one thread, like the bare extraction it is compared with.
2. The same corpus through bare text extraction alone (pypdfium2, every page's text), in the same
   run, before and after the pipeline (the mean of the two, as the machine is shared); the ratio
   pipeline / bare. The corpus has a text layer on every page, so no OCR runs.
3. Time to first page in the reader: a 300-page PDF through the pipeline, then the real reader
   page in Debian's Chromium (Playwright) against an in-process live server; the bytes of the
   range responses received before page 1 is rendered, counted at the network level (Playwright
   response events) and by the reader itself, against the file size.

Prints one JSON object.
"""

from __future__ import annotations

import io
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DOCS = int(os.environ.get("BENCH_DOCS", "220"))
SEED = 20270101
FONT = ROOT / "ecabinet" / "meetings" / "fonts" / "DejaVuSerif.ttf"
VOCABULARY = (
    "quyết định đất đai ngân sách nhà nước chính phủ bộ tài chính kế hoạch đầu tư phát triển kinh tế xã hội nghị định "
    "thông tư hướng dẫn thi hành luật quy hoạch sử dụng tài nguyên môi trường giáo dục y tế giao thông vận tải công nghiệp "
    "thương mại nông nghiệp thủ tướng phó thủ tướng bộ trưởng văn phòng tờ trình báo cáo thẩm định dự thảo điều khoản "
    "chương mục phụ lục biểu mẫu đề án chương trình mục tiêu quốc gia chuyển đổi số hạ tầng năng lượng điện lực"
)
WORDS = VOCABULARY.split(" ")


def log(*args: Any) -> None:
    print(*args, file=sys.stderr, flush=True)


def make_pdf(rng: random.Random, pages: int, title: str) -> bytes:
    from fpdf import FPDF

    doc = FPDF()
    doc.add_font("dejavu", "", str(FONT))
    doc.set_title(title)
    for number in range(1, pages + 1):
        doc.add_page()
        doc.set_font("dejavu", size=14)
        doc.text(15, 18, f"{title} — trang {number}")
        doc.set_font("dejavu", size=11)
        for line in range(38):
            doc.text(15, 30 + line * 6.6, " ".join(rng.choice(WORDS) for _ in range(12)))
    return bytes(doc.output())


def bare_extraction(corpus: list[bytes]) -> tuple[float, int, float]:
    import pypdfium2 as pdfium

    pages = 0
    cpu_start = time.process_time()
    start = time.perf_counter()
    for data in corpus:
        pdf = pdfium.PdfDocument(data)
        for index in range(len(pdf)):
            page = pdf[index]
            textpage = page.get_textpage()
            textpage.get_text_bounded()
            textpage.close()
            page.close()
            pages += 1
        pdf.close()
    return time.perf_counter() - start, pages, time.process_time() - cpu_start


def setup_django(var_dir: Path) -> None:
    os.environ["ECABINET_VAR_DIR"] = str(var_dir)
    for name in ("ECABINET_DATABASE_URL", "ECABINET_REDIS_URL", "ECABINET_BROKER_URL", "ECABINET_CLAMD_URL"):
        os.environ.pop(name, None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "ecabinet.settings"
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's loop shares this thread with the ORM
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def cabinet() -> dict[str, Any]:
    from datetime import timedelta

    from django.utils import timezone

    from ecabinet.identity.models import Clearance, Role
    from ecabinet.identity.tests.factories import GovernmentFactory, UserFactory
    from ecabinet.meetings.models import Meeting, Participant
    from ecabinet.meetings.tests.factories import AgendaItemFactory, MeetingFactory, MeetingRulesFactory, OfficeFactory, ParticipantFactory

    government = GovernmentFactory()
    MeetingRulesFactory(organisation=government)
    office = OfficeFactory(parent=government)
    secretary = UserFactory(role=Role.SECRETARY, organisation=office, clearance=Clearance.CONFIDENTIAL, full_name="Thư ký")
    chair = UserFactory(role=Role.CHAIR, organisation=government, full_name="Thủ tướng")
    member = UserFactory(role=Role.MEMBER, organisation=office, full_name="Bộ trưởng Đọc Thử")
    starts = timezone.now() + timedelta(days=3)
    meeting = MeetingFactory(
        organisation=government, chair=chair, created_by=secretary, state=Meeting.State.SCHEDULED, starts_at=starts, planned_end=starts + timedelta(hours=2)
    )
    for user, kind in ((chair, Participant.Kind.MEMBER), (member, Participant.Kind.MEMBER), (secretary, Participant.Kind.SECRETARY)):
        ParticipantFactory(meeting=meeting, user=user, kind=kind)
    item = AgendaItemFactory(meeting=meeting, order=1, presenting_org=office, presenter=member, proposed_by=secretary, reviewed_by=secretary)
    return {"office": office, "secretary": secretary, "member": member, "meeting": meeting, "item": item}


def timed_steps() -> dict[str, float]:
    """Wrap each pipeline step to add its time to a total per step."""
    from ecabinet.documents import pipeline

    totals: dict[str, float] = {}

    def wrap(step: Any) -> Any:
        def run(ctx: Any) -> None:
            start = time.perf_counter()
            try:
                step.run(ctx)
            finally:
                totals[step.run.__name__] = totals.get(step.run.__name__, 0.0) + time.perf_counter() - start

        return pipeline.Step(step.state, run)

    pipeline.STEPS = tuple(wrap(s) for s in pipeline.STEPS)
    return totals


BREAKDOWN = {
    # name in the output: (module, attribute) wrapped in place; the pipeline calls each through its module.
    "upload_action": ("ecabinet.documents.actions", "create_document"),
    "decrypt_original": ("ecabinet.documents.blobs", "decrypt_to"),
    "encrypt_blobs": ("ecabinet.documents.blobs", "write_blob"),
    "yara_and_type_scan": ("ecabinet.security.core.scan", "Scanner.scan_path"),
    "pikepdf_disarm": ("ecabinet.security.core.disarm", "disarm"),
    "pdfium_text_and_thumbnails": ("ecabinet.documents.core.extract", "extract"),
    "pdfium_thumbnails": ("ecabinet.documents.core.extract", "_thumbnail"),
    "fold_search_text": ("ecabinet.documents.core.textnorm", "search_text"),
    "index_version": ("ecabinet.documents.search", "index_version"),
    "finish_ready_notify_audit": ("ecabinet.documents.pipeline", "_finish"),
}


def timed_breakdown() -> dict[str, float]:
    """Wrap the functions of BREAKDOWN (nested ones overlap: thumbnails are inside pdfium_text_and_thumbnails)."""
    import importlib

    totals: dict[str, float] = {}
    for label, (module_name, attribute) in BREAKDOWN.items():
        owner: Any = importlib.import_module(module_name)
        *path, name = attribute.split(".")
        for part in path:
            owner = getattr(owner, part)
        original = getattr(owner, name)

        def timed(*args: Any, _original: Any = original, _label: str = label, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                totals[_label] = totals.get(_label, 0.0) + time.perf_counter() - start

        setattr(owner, name, timed)
    return totals


def ingest(people: dict[str, Any], data: bytes, title: str) -> Any:
    from ecabinet.documents import actions, pipeline

    version = actions.create_document(
        acting_user=people["secretary"],
        stream=io.BytesIO(data),
        filename="tai-lieu.pdf",
        title=title,
        owner_organisation=people["office"],
        meeting=people["meeting"],
        item=people["item"],
        inline=True,
    )
    state = pipeline.process_version(version.pk)
    if state != "ready":
        raise SystemExit(f"version {version.pk} ended {state}")
    return version


def first_page_in_reader(people: dict[str, Any], version: Any) -> dict[str, Any]:
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.test.testcases import LiveServerThread
    from playwright.sync_api import sync_playwright

    from ecabinet.conftest import fresh_code
    from ecabinet.identity.tests.factories import PASSWORD
    from ecabinet.web.tests.conftest import CHROMIUM, CHROMIUM_ARGS

    server = LiveServerThread("127.0.0.1", StaticFilesHandler, port=0)
    server.daemon = True
    server.start()
    server.is_ready.wait()
    if server.error:
        raise server.error
    base = f"http://127.0.0.1:{server.port}"
    member = people["member"]
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_context(base_url=base, viewport={"width": 1024, "height": 768}).new_page()
            page.goto("/login/")
            page.locator("input[name=username]").fill(member.username)
            page.locator("input[name=password]").fill(PASSWORD)
            page.locator("#login-submit").click()
            page.wait_for_url("**/login/code/")
            member.refresh_from_db()
            page.locator("#id_code").fill(fresh_code(member))
            page.locator("#code-submit").click()
            page.wait_for_url(f"{base}/")
            received: list[int] = []
            statuses: list[int] = []

            def on_response(response: Any) -> None:
                if "/content" in response.url:
                    statuses.append(response.status)
                    received.append(len(response.body()))

            page.on("response", on_response)
            start = time.perf_counter()
            page.goto(f"/documents/versions/{version.pk}/read/")
            page.wait_for_selector('#reader[data-rendered="1"]', timeout=60_000)
            elapsed = time.perf_counter() - start
            network_bytes = sum(received)
            requests = len(received)
            reader_bytes = int(page.locator("#reader").get_attribute("data-bytes-at-render") or 0)
            browser.close()
    finally:
        server.terminate()
    size = version.stored.plaintext_size
    return {
        "pdf_pages": version.page_count,
        "file_bytes": size,
        "bytes_before_first_page": network_bytes,
        "bytes_counted_by_reader": reader_bytes,
        "range_requests": requests,
        "statuses": sorted(set(statuses)),
        "fraction_of_file": round(network_bytes / size, 4),
        "seconds_to_first_page": round(elapsed, 3),
        "method": "Playwright + Debian Chromium opening the reader page; sum of the /content response bodies received before page 1 was rendered",
    }


def main() -> None:
    rng = random.Random(SEED)
    log(f"generating {DOCS} PDFs ...")
    corpus: list[bytes] = []
    for n in range(DOCS):
        corpus.append(make_pdf(rng, rng.randint(6, 14), f"Tờ trình số {n + 1}/TTr-BTC về đất đai"))
    big = make_pdf(rng, 300, "Hồ sơ phiên họp 300 trang")
    with tempfile.TemporaryDirectory(prefix="ecab-bench-ingest-") as tmp:
        setup_django(Path(tmp) / "var")
        from django.db import connection

        from ecabinet.documents import search
        from ecabinet.documents.core.ocr import Tesseract

        people = cabinet()
        log("bare extraction ...")
        bare_before, pages, bare_cpu_before = bare_extraction(corpus)
        steps = timed_steps()
        breakdown = timed_breakdown()
        log(f"pipeline: {len(corpus)} documents, {pages} pages ...")
        load_before = os.getloadavg()[0]
        cpu_start = time.process_time()
        start = time.perf_counter()
        for n, data in enumerate(corpus):
            ingest(people, data, f"Tờ trình số {n + 1}/TTr-BTC về đất đai")
        pipeline_seconds = time.perf_counter() - start
        pipeline_cpu = time.process_time() - cpu_start
        load_after = os.getloadavg()[0]
        step_seconds = dict(steps)
        breakdown_seconds = dict(breakdown)
        bare_after, _, bare_cpu_after = bare_extraction(corpus)
        bare_seconds = statistics.mean([bare_before, bare_after])
        bare_cpu = statistics.mean([bare_cpu_before, bare_cpu_after])
        query_start = time.perf_counter()
        hits = search.search(people["member"], "quyet dinh dat dai", limit=20)
        query_seconds = time.perf_counter() - query_start
        log("300-page PDF and the reader ...")
        big_version = ingest(people, big, "Hồ sơ phiên họp 300 trang")
        big_version.refresh_from_db()
        reader = first_page_in_reader(people, big_version)
        pipeline_pps = pages / pipeline_seconds
        bare_pps = pages / bare_seconds
        result = {
            "benchmark": "ingest",
            "database": connection.vendor,
            "ocr_installed": Tesseract().available(),
            "corpus": {"documents": len(corpus), "pages": pages, "bytes": sum(len(d) for d in corpus)},
            "pipeline": {
                "seconds": round(pipeline_seconds, 3),
                "pages_per_second": round(pipeline_pps, 1),
                "documents_per_second": round(len(corpus) / pipeline_seconds, 2),
                "step_seconds": {name: round(value, 3) for name, value in step_seconds.items()},
                "outside_steps_seconds": round(pipeline_seconds - sum(step_seconds.values()), 3),
                "breakdown_seconds": {name: round(breakdown_seconds.get(name, 0.0), 3) for name in BREAKDOWN},
                "breakdown_note": "wall seconds inside each function over the whole corpus; pdfium_thumbnails is part of "
                "pdfium_text_and_thumbnails, fold_search_text of the extract and index steps, encrypt_blobs of the upload "
                "(original), extract (thumbnails) and finish (disarmed file) parts",
                "ms_per_document": round(pipeline_seconds / len(corpus) * 1000, 1),
                "cpu_seconds": round(pipeline_cpu, 3),
                "processes": 1,
                "threads": 1,
            },
            "bare_extraction": {
                "seconds": round(bare_seconds, 3),
                "runs_seconds": [round(bare_before, 3), round(bare_after, 3)],
                "pages_per_second": round(bare_pps, 1),
                "cpu_seconds": round(bare_cpu, 3),
                "library": "pypdfium2 (text of every page)",
            },
            "ratio_pipeline_to_bare": round(pipeline_pps / bare_pps, 4),
            "ratio_pipeline_to_bare_cpu": round(bare_cpu / pipeline_cpu, 4),
            "aim_ratio": 0.5,
            "load_average_1min": [round(load_before, 2), round(load_after, 2)],
            "cpu_cores": os.cpu_count(),
            "search": {"query": "quyet dinh dat dai", "hits": len(hits), "seconds": round(query_seconds, 4)},
            "reader_first_page": reader,
        }
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
