"""Minutes as PDF, with fpdf2 and the DejaVu Serif fonts shipped in ``meetings/fonts``.

The font covers Vietnamese fully and is embedded (subset) in each file, so the diacritics print
and copy out exactly. Rendering is deterministic for the same minutes (the creation date is the
approval time), which is what lets the approved file be fingerprinted and, if lost, remade.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from pathlib import Path

from django.utils import timezone
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from ecabinet.meetings.minutes import LABELS
from ecabinet.meetings.models import Minutes

FONT_DIR = Path(__file__).resolve().parent / "fonts"
FAMILY = "DejaVuSerif"
_STYLES = {"": "DejaVuSerif.ttf", "B": "DejaVuSerif-Bold.ttf", "I": "DejaVuSerif-Italic.ttf"}

MARKS = {
    "vi": {"draft": "DỰ THẢO — chưa được phê duyệt", "approved": "Đã phê duyệt: {name}, {when}", "page": "Trang {page}/{pages}"},
    "en": {"draft": "DRAFT — not approved", "approved": "Approved by {name} on {when}", "page": "Page {page} of {pages}"},
}


class MinutesPDF(FPDF):
    def __init__(self, *, mark: str, page_label: str) -> None:
        super().__init__(format="A4")
        self.mark = mark
        self.page_label = page_label
        for style, filename in _STYLES.items():
            self.add_font(FAMILY, style, str(FONT_DIR / filename))
        self.set_margins(25, 20, 20)
        self.set_auto_page_break(auto=True, margin=20)

    def header(self) -> None:
        self.set_font(FAMILY, "I", 8)
        self.set_text_color(90, 90, 90)
        self.cell(0, 5, self.mark, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(0, 0, 0)
        self.ln(2)

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font(FAMILY, "", 8)
        self.cell(0, 8, self.page_label.format(page=self.page_no(), pages="{nb}"), align="C")


def _line(pdf: MinutesPDF, text: str, *, style: str = "", size: float = 11, align: str = "L", indent: float = 0, height: float = 6) -> None:
    pdf.set_font(FAMILY, style, size)
    pdf.set_x(pdf.l_margin + indent)
    pdf.multi_cell(pdf.epw - indent, height, text, align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def render_text(text: str, *, mark: str, page_label: str, created_at: datetime, title: str) -> bytes:
    """Lay the minutes' line markup out on A4 pages (see ``meetings.minutes`` for the markup)."""
    pdf = MinutesPDF(mark=mark, page_label=page_label)
    pdf.set_creation_date(created_at)
    pdf.set_title(unicodedata.normalize("NFC", title))
    pdf.set_creator("e-Cabinet")
    pdf.set_lang("vi")
    pdf.alias_nb_pages()
    pdf.add_page()
    for raw in unicodedata.normalize("NFC", text).splitlines():
        line = raw.rstrip()
        if not line.strip():
            pdf.ln(3)
        elif line.startswith("^ "):
            _line(pdf, line[2:].strip(), style="B", size=12, align="C")
        elif line.startswith("# "):
            pdf.ln(1)
            _line(pdf, line[2:].strip(), style="B", size=14, align="C", height=7)
        elif line.startswith("## "):
            pdf.ln(2)
            _line(pdf, line[3:].strip(), style="B", size=12, height=7)
        elif line.startswith("### "):
            pdf.ln(1)
            _line(pdf, line[4:].strip(), style="B", size=11)
        elif line.lstrip().startswith("- "):
            depth = (len(line) - len(line.lstrip())) // 2
            _line(pdf, "• " + line.lstrip()[2:].strip(), indent=5 + 6 * depth)
        else:
            _line(pdf, line.strip(), align="J")
    return bytes(pdf.output())


def render_minutes(minutes: Minutes) -> bytes:
    """The PDF of these minutes: marked as a draft until approved, then with who approved and when."""
    # The marks follow the language the minutes were drafted in (their title says which).
    language = "en" if LABELS["en"]["title"] in minutes.text else "vi"
    marks = MARKS[language]
    if minutes.state == Minutes.State.APPROVED and minutes.approved_at is not None:
        when = timezone.localtime(minutes.approved_at).strftime("%H:%M %d/%m/%Y")
        approver = minutes.approved_by.display_name if minutes.approved_by else ""
        mark = marks["approved"].format(name=approver, when=when)
        created = minutes.approved_at
    else:
        mark = marks["draft"]
        created = minutes.edited_at or minutes.drafted_at
    return render_text(minutes.text, mark=mark, page_label=marks["page"], created_at=created, title=minutes.meeting.title)
