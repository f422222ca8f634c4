"""The extractor never crashes a worker: mutated PDFs, DOCX, ODT and text files (flipped bytes,
cut tails, spliced junk) each give an ``Extraction`` (possibly with ``error`` set), never an
exception, and every page it reports is numbered in order with clean text."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecabinet.documents.core import extract
from ecabinet.documents.core.ocr import Tesseract
from ecabinet.documents.tests import text_samples as ts

SEEDS = {
    "pdf": ts.pdf([ts.LAND, ts.BUDGET]),
    "scan.pdf": ts.scanned_pdf("Đất đai"),
    "docx": ts.docx([[ts.LAND], [ts.BUDGET]]),
    "odt": ts.odt([ts.LAND, ts.FRENCH], page_break_after=0),
    "txt": ts.LAND.encode() + b"\f" + ts.BUDGET.encode(),
}
KINDS = {"pdf": "pdf", "scan.pdf": "pdf", "docx": "docx", "odt": "odt", "txt": "txt"}
# OCR is not what is fuzzed here (Tesseract runs in its own process with a timeout); without it
# scanned pages must still come back as "ocr_unavailable", not as an error.
NO_OCR = Tesseract(binary=None)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    seed = draw(st.sampled_from(sorted(SEEDS)))
    data = bytearray(SEEDS[seed])
    for _ in range(draw(st.integers(min_value=1, max_value=8))):
        if not data:
            break
        op = draw(st.sampled_from(["flip", "cut", "splice", "dup"]))
        pos = draw(st.integers(min_value=0, max_value=len(data) - 1))
        if op == "flip":
            data[pos] = draw(st.integers(min_value=0, max_value=255))
        elif op == "cut":
            del data[pos : pos + draw(st.integers(min_value=1, max_value=512))]
        elif op == "splice":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=64))
        else:
            data[pos:pos] = data[pos : pos + draw(st.integers(min_value=1, max_value=256))]
    return KINDS[seed], bytes(data)


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated())
def test_mutated_files_never_raise(case: tuple[str, bytes]) -> None:
    kind, data = case
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "in"
        path.write_bytes(data)
        result = extract.extract(kind, path, ocr=NO_OCR, thumbnails=True)
    assert isinstance(result, extract.Extraction)
    assert [p.number for p in result.pages] == list(range(1, len(result.pages) + 1))
    for page in result.pages:
        assert page.source in (extract.TEXT, extract.EMPTY, extract.OCR_UNAVAILABLE)
        assert "\x00" not in page.text and len(page.text) <= extract.MAX_PAGE_CHARS
    if kind != "pdf":
        assert result.thumbnails == []
    assert len(result.thumbnails) in (0, len(result.pages))
