"""Text of every page of a (disarmed) file, page thumbnails, and OCR where a page has no text layer.

Pure Python, no Django. ``extract`` never raises: a file it cannot read yields an ``Extraction``
with ``error`` set and whatever pages it got, because a document whose text cannot be taken out
is still a document people must be able to read; only search loses it.

PDF: PDFium (pypdfium2: Apache-2.0/BSD, the engine of Chromium's viewer) for the text layer and
for rendering, one pass over the pages. A page with no text but with an image on it is a scan
and goes to OCR; a page with neither is blank and does not.

DOCX, ODT, PPTX, XLSX, ODS: the XML parts are read straight from the zip with the standard
library. These formats keep their text in a handful of well-documented elements, and the upload
was already checked (zip limits, macros) by the scanner; python-docx/odfpy would add lxml and two
dependencies to get the same strings. DTDs are refused outright (no OOXML or ODF part has one), so
entity tricks never reach the parser. Page boundaries come from the breaks the authoring program
recorded (explicit page breaks, Word's last-rendered breaks, ODF soft page breaks); slides are pages.
"""

from __future__ import annotations

import io
import re
import threading
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree as ET

from ecabinet.documents.core.ocr import OcrEngine, OcrError

# PDFium is not thread-safe; one process may run the embedded worker beside other threads.
PDFIUM_LOCK = threading.Lock()

TEXT = "text"  # the page's own text layer
OCR = "ocr"  # text recognised from the page image
OCR_UNAVAILABLE = "ocr_unavailable"  # a scanned page, but no OCR engine is installed
OCR_FAILED = "ocr_failed"
EMPTY = "empty"  # nothing on the page to read

MAX_PAGE_CHARS = 200_000
MAX_TOTAL_CHARS = 20_000_000
MAX_XML_BYTES = 64 * 1024 * 1024
MAX_OCR_PIXELS = 40_000_000
OCR_DPI = 300
THUMB_WIDTH = 160
# JPEG, not PNG/WebP: Pillow encodes a 160-px page as JPEG in ~0.5 ms, PNG ~3 ms, WebP ~5 ms, and
# thumbnails are made for every page of every upload; a navigation picture needs nothing better.
THUMB_QUALITY = 70

PDF, DOCX, XLSX, PPTX, ODT, ODS, PNG, JPEG, TIFF, TXT = "pdf", "docx", "xlsx", "pptx", "odt", "ods", "png", "jpeg", "tiff", "txt"

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
S = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
TEXT_NS = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
PAGE_BREAK = "\f"


@dataclass
class Page:
    number: int
    text: str
    source: str


@dataclass
class Thumbnail:
    number: int
    data: bytes
    width: int
    height: int
    mime_type: str = "image/jpeg"


@dataclass
class Extraction:
    pages: list[Page] = field(default_factory=list)
    thumbnails: list[Thumbnail] = field(default_factory=list)
    error: str = ""  # why some or all of the text could not be read

    @property
    def page_count(self) -> int:
        return len(self.pages)

    def count(self, source: str) -> int:
        return sum(1 for page in self.pages if page.source == source)


class _Budget:
    def __init__(self) -> None:
        self.left = MAX_TOTAL_CHARS

    def take(self, text: str) -> str:
        text = clean(text)[:MAX_PAGE_CHARS][: max(self.left, 0)]
        self.left -= len(text)
        return text


def clean(text: str) -> str:
    """NFC, Unix line ends, no control characters (PDFium reports line ends as CR LF)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return unicodedata.normalize("NFC", CONTROL_RE.sub(" ", text)).strip()


def extract(kind: str, path: Path, *, ocr: OcrEngine | None = None, thumbnails: bool = True) -> Extraction:
    """Pages (and for PDFs thumbnails) of the file at ``path`` whose real type is ``kind``."""
    try:
        if kind == PDF:
            return _pdf(path, ocr, thumbnails)
        if kind in (DOCX, ODT, PPTX, XLSX, ODS):
            return _office(kind, path)
        if kind == TXT:
            return _plain(path)
        if kind in (PNG, JPEG, TIFF):
            return _image(path, ocr)
        return Extraction()
    except Exception as exc:  # a damaged file must never take a worker down
        return Extraction(error=f"{type(exc).__name__}: {str(exc)[:200]}")


# --- PDF -------------------------------------------------------------------------------------


def _pdf(path: Path, ocr: OcrEngine | None, thumbnails: bool) -> Extraction:
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    result = Extraction()
    budget = _Budget()
    ocr_ready = ocr is not None and ocr.available()
    with PDFIUM_LOCK:
        pdf = pdfium.PdfDocument(str(path))
        try:
            for index in range(len(pdf)):
                page = pdf[index]
                try:
                    try:
                        textpage = page.get_textpage()
                        try:
                            text = textpage.get_text_bounded()
                        finally:
                            textpage.close()
                    except pdfium.PdfiumError as exc:
                        text = ""
                        result.error = result.error or f"page {index + 1}: {exc}"
                    text = budget.take(text)
                    source = TEXT if text else EMPTY
                    if not text and _has_image(page, pdfium_c):
                        source = OCR_UNAVAILABLE
                        if ocr_ready:
                            assert ocr is not None
                            try:
                                text = budget.take(ocr.image_to_text(_render_png(page)))
                                source = OCR
                            except OcrError as exc:
                                source = OCR_FAILED
                                result.error = result.error or f"page {index + 1}: OCR failed: {exc}"
                    result.pages.append(Page(index + 1, text, source))
                    if thumbnails:
                        try:
                            result.thumbnails.append(_thumbnail(page, index + 1))
                        except Exception as exc:  # no thumbnails at all rather than a gap in them
                            thumbnails = False
                            result.thumbnails = []
                            result.error = result.error or f"page {index + 1}: thumbnail: {type(exc).__name__}"
                finally:
                    page.close()
        finally:
            pdf.close()
    return result


def _has_image(page: object, pdfium_c: object) -> bool:
    for _ in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=3):  # type: ignore[attr-defined]
        return True
    return False


def _render_png(page: object) -> bytes:
    width, height = page.get_size()  # type: ignore[attr-defined]
    scale = OCR_DPI / 72
    if width * height * scale * scale > MAX_OCR_PIXELS:
        scale = (MAX_OCR_PIXELS / max(width * height, 1)) ** 0.5
    image = page.render(scale=scale, grayscale=True).to_pil()  # type: ignore[attr-defined]
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=1)
    return out.getvalue()


def _thumbnail(page: object, number: int) -> Thumbnail:
    width, height = page.get_size()  # type: ignore[attr-defined]
    scale = THUMB_WIDTH / max(width, 1)
    if height * scale > THUMB_WIDTH * 4:  # very tall strips: bound the height instead
        scale = THUMB_WIDTH * 4 / max(height, 1)
    # Rendered straight at the thumbnail's size. RGBX in PIL's byte order: the same pixels as the
    # default BGR (checked), without the 24-bit blending path and the BGR->RGB swap, ~10 % faster.
    image = page.render(scale=scale, may_draw_forms=False, prefer_bgrx=True, rev_byteorder=True).to_pil()  # type: ignore[attr-defined]
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=THUMB_QUALITY)
    return Thumbnail(number=number, data=out.getvalue(), width=image.width, height=image.height)


# --- zip-based office files ------------------------------------------------------------------


def _read_member(zf: zipfile.ZipFile, name: str) -> bytes:
    with zf.open(name) as member:
        data = member.read(MAX_XML_BYTES + 1)
    if len(data) > MAX_XML_BYTES:
        raise ValueError(f"{name} is larger than {MAX_XML_BYTES} bytes")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise ValueError(f"{name} declares a DTD, which no office document needs")
    return data


def _events(data: bytes) -> Iterator[tuple[str, ET.Element]]:
    # Safe without defusedxml: _read_member refused any DTD, so no entity can be declared.
    yield from ET.iterparse(io.BytesIO(data), events=("start", "end"))  # noqa: S314


def _docx_page_break(el: ET.Element) -> bool:
    tag = el.tag
    if tag == W + "lastRenderedPageBreak":
        return True
    if tag == W + "br":
        return el.get(W + "type") == "page"
    return tag == W + "pageBreakBefore" and el.get(W + "val", "true") not in ("0", "false")


def _docx_text(data: bytes) -> str:
    parts: list[str] = []
    for event, el in _events(data):
        tag = el.tag
        if event == "start":
            if _docx_page_break(el):
                parts.append(PAGE_BREAK)
            continue
        if tag == W + "t" and el.text:
            parts.append(el.text)
        elif tag == W + "tab":
            parts.append("\t")
        elif tag == W + "br" and el.get(W + "type") != "page":
            parts.append("\n")
        elif tag == W + "p":
            parts.append("\n")
            el.clear()
    return "".join(parts)


def _odf_text(data: bytes) -> str:
    parts: list[str] = []
    # ODF puts text both in an element's .text and in the .tail of its children (<text:s/>...).
    stack: list[ET.Element] = []
    for event, el in _events(data):
        tag = el.tag
        if event == "start":
            if tag == TEXT_NS + "soft-page-break":
                parts.append(PAGE_BREAK)
            if tag in (TEXT_NS + "p", TEXT_NS + "h", TEXT_NS + "span", TEXT_NS + "a") and el.text:
                parts.append(el.text)
            elif tag == TEXT_NS + "s":
                parts.append(" " * int(el.get(TEXT_NS + "c", "1") or 1))
            elif tag == TEXT_NS + "tab":
                parts.append("\t")
            elif tag == TEXT_NS + "line-break":
                parts.append("\n")
            stack.append(el)
            continue
        stack.pop()
        if tag in (TEXT_NS + "p", TEXT_NS + "h"):
            parts.append("\n")
        if el.tail and stack and stack[-1].tag in (TEXT_NS + "p", TEXT_NS + "h", TEXT_NS + "span", TEXT_NS + "a"):
            parts.append(el.tail)
    return "".join(parts)


def _all_text(data: bytes, tags: Iterable[str], separator_tags: Iterable[str]) -> str:
    wanted, separators = set(tags), set(separator_tags)
    parts: list[str] = []
    for event, el in _events(data):
        if event != "end":
            continue
        if el.tag in wanted and el.text:
            parts.append(el.text)
        elif el.tag in separators:
            parts.append("\n")
    return "".join(parts)


def _slide_number(name: str) -> int:
    digits = re.findall(r"\d+", name)
    return int(digits[-1]) if digits else 0


def _office(kind: str, path: Path) -> Extraction:
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        if kind == DOCX:
            pages = _docx_text(_read_member(zf, "word/document.xml")).split(PAGE_BREAK)
        elif kind == ODT:
            pages = _odf_text(_read_member(zf, "content.xml")).split(PAGE_BREAK)
        elif kind == ODS:
            pages = [_odf_text(_read_member(zf, "content.xml")).replace(PAGE_BREAK, "")]
        elif kind == PPTX:
            slides = sorted((n for n in names if re.fullmatch(r"ppt/slides/slide\d+\.xml", n)), key=_slide_number)
            pages = [_all_text(_read_member(zf, n), [A + "t"], [A + "p"]) for n in slides]
        else:  # XLSX: the shared strings hold the sheets' text
            pages = [_all_text(_read_member(zf, "xl/sharedStrings.xml"), [S + "t"], [S + "si"])] if "xl/sharedStrings.xml" in names else [""]
    # A break at the very start or end (Word records one before the first page) makes no page.
    while len(pages) > 1 and not pages[0].strip():
        pages.pop(0)
    while len(pages) > 1 and not pages[-1].strip():
        pages.pop()
    budget = _Budget()
    result = Extraction()
    for number, raw in enumerate(pages, start=1):
        text = budget.take(raw)
        result.pages.append(Page(number, text, TEXT if text else EMPTY))
    return result


# --- plain text and images -------------------------------------------------------------------


def _plain(path: Path) -> Extraction:
    data = path.read_bytes()[: MAX_TOTAL_CHARS * 4]
    text = data.decode("utf-8", "replace")
    budget = _Budget()
    result = Extraction()
    for number, raw in enumerate(text.split(PAGE_BREAK), start=1):
        page = budget.take(raw)
        result.pages.append(Page(number, page, TEXT if page else EMPTY))
    return result


def _image(path: Path, ocr: OcrEngine | None) -> Extraction:
    from PIL import Image, ImageSequence

    result = Extraction()
    budget = _Budget()
    ocr_ready = ocr is not None and ocr.available()
    with Image.open(path) as image:
        for number, frame in enumerate(ImageSequence.Iterator(image), start=1):
            if number > 500:
                break
            if frame.width * frame.height > MAX_OCR_PIXELS:
                result.pages.append(Page(number, "", OCR_FAILED))
                result.error = result.error or f"page {number}: image too large for OCR"
                continue
            if not ocr_ready:
                result.pages.append(Page(number, "", OCR_UNAVAILABLE))
                continue
            assert ocr is not None
            out = io.BytesIO()
            frame.convert("L").save(out, format="PNG", compress_level=1)
            try:
                text = budget.take(ocr.image_to_text(out.getvalue()))
                result.pages.append(Page(number, text, OCR))
            except OcrError as exc:
                result.pages.append(Page(number, "", OCR_FAILED))
                result.error = result.error or f"page {number}: OCR failed: {exc}"
    return result
