"""Files with real Vietnamese text, built by the tests: PDFs (fpdf2 + DejaVu), a scanned page,
DOCX and ODT written as zips by hand."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from fpdf import FPDF

FONTS = Path(__file__).resolve().parents[2] / "meetings" / "fonts"

LAND = "Quyết định về quản lý đất đai và quy hoạch sử dụng đất của Chính phủ."
BUDGET = "Tờ trình về dự toán ngân sách nhà nước năm 2027 của Bộ Tài chính."
FRENCH = "Décision relative à la gestion foncière et à l'aménagement du territoire."


def pdf(pages: list[str], *, size: int = 12) -> bytes:
    doc = FPDF()
    doc.add_font("dejavu", "", str(FONTS / "DejaVuSerif.ttf"))
    doc.set_font("dejavu", size=size)
    for text in pages:
        doc.add_page()
        doc.multi_cell(0, 8, text)
    return bytes(doc.output())


def scanned_pdf(text: str) -> bytes:
    """A PDF whose only page is a picture of ``text``: no text layer, OCR or nothing."""
    import pypdfium2 as pdfium

    source = pdfium.PdfDocument(pdf([text], size=16))
    try:
        image = source[0].render(scale=300 / 72, grayscale=True).to_pil()
    finally:
        source.close()
    picture = io.BytesIO()
    image.convert("RGB").save(picture, format="JPEG", quality=90)
    doc = FPDF()
    doc.add_page()
    doc.image(io.BytesIO(picture.getvalue()), x=0, y=0, w=210)
    return bytes(doc.output())


def _zip(members: dict[str, bytes], first: tuple[str, bytes] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        if first is not None:
            zf.writestr(zipfile.ZipInfo(first[0]), first[1])  # stored, first: the ODF rule
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="xml" ContentType="application/xml"/>'
    b'<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)


def docx(pages: list[list[str]]) -> bytes:
    """Paragraphs per page; pages separated by explicit page breaks."""
    body = []
    for index, paragraphs in enumerate(pages):
        if index:
            body.append('<w:p><w:r><w:br w:type="page"/></w:r></w:p>')
        for text in paragraphs:
            head, _, tail = text.partition(" ")
            # Runs split mid-paragraph, as Word writes them.
            body.append(f'<w:p><w:r><w:t>{head}</w:t></w:r><w:r><w:t xml:space="preserve"> {tail}</w:t></w:r></w:p>')
    xml = f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{W_NS}"><w:body>{"".join(body)}</w:body></w:document>'
    return _zip({"[Content_Types].xml": CONTENT_TYPES, "word/document.xml": xml.encode()})


def odt(paragraphs: list[str], *, page_break_after: int | None = None) -> bytes:
    ns = 'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
    parts = []
    for index, text in enumerate(paragraphs):
        words = text.split(" ")
        # <text:s/> for a space and a <text:span>, as LibreOffice writes them.
        inner = f"{words[0]}<text:s/><text:span>{' '.join(words[1:])}</text:span>"
        parts.append(f"<text:p>{inner}</text:p>")
        if page_break_after is not None and index == page_break_after:
            parts.append("<text:soft-page-break/>")
    xml = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ns}>'
        f"<office:body><office:text>{''.join(parts)}</office:text></office:body></office:document-content>"
    )
    manifest = b'<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"/>'
    return _zip({"content.xml": xml.encode(), "META-INF/manifest.xml": manifest}, first=("mimetype", b"application/vnd.oasis.opendocument.text"))
