"""Text extraction (pure core): Vietnamese PDFs, DOCX, ODT, OCR of a scanned page, and the
"OCR unavailable" answer when Tesseract is missing; the text normaliser and the anchoring."""

from __future__ import annotations

from pathlib import Path

from ecabinet.documents.core import anchoring, extract, textnorm
from ecabinet.documents.core.ocr import Tesseract
from ecabinet.documents.tests import text_samples as ts


def write(tmp_path: Path, data: bytes, name: str = "f") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_fold_removes_vietnamese_marks_and_d_stroke():
    assert textnorm.fold("Quyết định về ĐẤT ĐAI") == "quyet dinh ve dat dai"
    # Combining (NFD) input folds the same as precomposed.
    assert textnorm.fold("Quye\u0302\u0301t") == "quyet"
    assert textnorm.tokens("Số 123/TTr-BTC, ngày 5.") == ["so", "123", "ttr", "btc", "ngay", "5"]
    assert textnorm.search_text("Œuvre Ørsted Łódź") == "oeuvre orsted lodz"
    spans = textnorm.word_spans("Đất đai")
    assert [(s, e, w) for s, e, w in spans] == [(0, 3, "dat"), (4, 7, "dai")]


def test_pdf_text_layer_in_vietnamese_with_thumbnails(tmp_path):
    path = write(tmp_path, ts.pdf([ts.LAND, ts.BUDGET, ts.FRENCH]))
    result = extract.extract("pdf", path, ocr=None)
    assert result.error == ""
    assert [p.source for p in result.pages] == ["text", "text", "text"]
    assert "quản lý đất đai" in result.pages[0].text
    assert "ngân sách nhà nước" in result.pages[1].text
    assert "gestion foncière" in result.pages[2].text
    assert len(result.thumbnails) == 3
    thumb = result.thumbnails[0]
    assert thumb.data.startswith(b"\xff\xd8") and thumb.width == extract.THUMB_WIDTH and thumb.height > thumb.width


def test_docx_pages_and_runs(tmp_path):
    path = write(tmp_path, ts.docx([[ts.LAND, "Điều 1. Phạm vi điều chỉnh"], [ts.BUDGET]]))
    result = extract.extract("docx", path)
    assert result.error == ""
    assert len(result.pages) == 2
    assert ts.LAND in result.pages[0].text and "Điều 1. Phạm vi điều chỉnh" in result.pages[0].text
    assert result.pages[1].text == ts.BUDGET


def test_odt_spaces_spans_and_soft_page_breaks(tmp_path):
    path = write(tmp_path, ts.odt([ts.LAND, ts.BUDGET, ts.FRENCH], page_break_after=0))
    result = extract.extract("odt", path)
    assert result.error == ""
    assert [p.text for p in result.pages] == [ts.LAND, f"{ts.BUDGET}\n{ts.FRENCH}"]


def test_xml_with_a_dtd_is_not_parsed(tmp_path):
    bomb = '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><w:document xmlns:w="x">&b;</w:document>'
    path = write(tmp_path, ts._zip({"word/document.xml": bomb.encode()}))
    result = extract.extract("docx", path)
    assert result.pages == [] and "DTD" in result.error


def test_blank_pdf_pages_are_blank_not_scans(tmp_path):
    from ecabinet.security.tests import samples

    result = extract.extract("pdf", write(tmp_path, samples.pdf(2)), ocr=Tesseract())
    assert [p.source for p in result.pages] == ["empty", "empty"]


def test_scanned_page_is_marked_ocr_unavailable_without_tesseract(tmp_path):
    path = write(tmp_path, ts.scanned_pdf(ts.LAND))
    result = extract.extract("pdf", path, ocr=Tesseract(binary=None))
    assert [p.source for p in result.pages] == ["ocr_unavailable"]
    assert result.pages[0].text == "" and result.count("ocr_unavailable") == 1


def test_ocr_reads_a_scanned_vietnamese_page(tmp_path):
    # Tesseract and its Vietnamese data come from `make sysdeps` (tesseract-ocr, tesseract-ocr-vie).
    engine = Tesseract(languages="vie+eng+fra")
    assert "vie" in engine.usable_languages()
    path = write(tmp_path, ts.scanned_pdf(ts.LAND))
    result = extract.extract("pdf", path, ocr=engine)
    assert [p.source for p in result.pages] == ["ocr"]
    # Tolerant: most of the words come back, compared without accents as search would.
    expected = set(textnorm.tokens(ts.LAND))
    got = set(textnorm.tokens(result.pages[0].text))
    assert len(expected & got) >= 0.8 * len(expected), (expected - got, result.pages[0].text)
    assert "quyết định" in result.pages[0].text.casefold() or "đất đai" in result.pages[0].text.casefold()


def test_anchoring_finds_the_quote_near_its_page_and_by_context():
    pages = {1: "Mở đầu.", 2: "Điều 3. Giao đất.\nĐiều 4. Giao đất có thu tiền.", 5: "Điều 3. Giao đất."}
    anchor = anchoring.locate("Giao  đất", pages, hint_page=5)
    assert anchor is not None and anchor.page == 5
    # Two occurrences on page 2: the context picks the second one.
    second = anchoring.locate("Giao đất", pages, hint_page=2, prefix="Điều 4.", suffix="có thu tiền")
    assert second is not None and second.page == 2 and second.start > 10
    assert anchoring.locate("Thu hồi đất", pages, hint_page=2) is None
