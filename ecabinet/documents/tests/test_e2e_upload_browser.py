"""Issue 4's "Done when", tried as a new user would, in Chromium against the live server.

A secretary drops 20 files into an agenda item on the upload page: 18 Vietnamese PDFs (fpdf2 +
DejaVu), one file carrying the EICAR test string and one PDF with JavaScript (pikepdf). The
EICAR file is quarantined with its reason shown; the JavaScript PDF is disarmed and becomes
readable, the page saying what was removed; the rest become ready. The secretary's dossier shows
the quarantined upload's state; a member's leaves it out. Then a member on a tablet opens the
dossier, opens a document in the reader, sees the watermark, pins a note, and finds
a document by typing words without diacritics.

(Altering a stored file on disk: test_integrity_and_cli.py proves the refusal and the alert.)
"""

from __future__ import annotations

import re

import pytest
from django.db import connection
from playwright.sync_api import expect

from ecabinet.documents.models import Annotation, DocumentVersion, DossierEntry
from ecabinet.documents.tests import text_samples as ts
from ecabinet.security.tests import samples
from ecabinet.web.tests.conftest import browser, new_page  # noqa: F401 - fixtures
from ecabinet.web.tests.test_browser import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TOPICS = [
    "Quyết định về quản lý đất đai và quy hoạch sử dụng đất",
    "Tờ trình về dự toán ngân sách nhà nước năm 2027",
    "Báo cáo tình hình kinh tế - xã hội tháng mười",
    "Đề án chuyển đổi số quốc gia giai đoạn hai",
    "Dự thảo Nghị định về giao thông vận tải đường bộ",
    "Công văn hướng dẫn thi hành luật giáo dục",
]


def twenty_files() -> list[dict]:
    files = []
    for n in range(18):
        topic = TOPICS[n % len(TOPICS)]
        body = [f"{topic} — văn bản số {n + 1}.", f"{ts.BUDGET} Trang hai của văn bản {n + 1}."]
        files.append({"name": f"van-ban-{n + 1:02d}.pdf", "mimeType": "application/pdf", "buffer": ts.pdf(body)})
    files.append({"name": "ghi-chu.txt", "mimeType": "text/plain", "buffer": samples.EICAR})
    files.append({"name": "co-javascript.pdf", "mimeType": "application/pdf", "buffer": samples.pdf_with_javascript()})
    return files


def test_secretary_drops_twenty_files_member_reads_annotates_and_searches(cabinet, new_page):  # noqa: F811 - fixture
    item = cabinet.items[1]
    secretary = new_page()
    sign_in(secretary, cabinet.office_secretary)
    secretary.goto(f"/meetings/{cabinet.meeting.pk}/")
    secretary.locator("#upload-link").click()
    expect(secretary).to_have_url(re.compile(rf"/documents/meetings/{cabinet.meeting.pk}/upload/$"))
    expect(secretary.locator("#upload-form")).to_have_attribute("data-ready", "1")
    secretary.locator("#upload-item").select_option(str(item.pk))
    if connection.vendor == "sqlite":
        # pytest-django's live server shares its one in-memory SQLite connection between its
        # request threads, which cannot write at the same time; on PostgreSQL three go at once.
        secretary.evaluate("() => { document.getElementById('upload-form').dataset.parallel = '1'; }")
    secretary.locator("#upload-files").set_input_files(twenty_files())

    rows = secretary.locator("#uploads tbody tr")
    expect(rows).to_have_count(20)
    expect(secretary.locator("#upload-summary")).to_have_attribute("data-done", "20", timeout=120_000)
    eicar = secretary.locator('tr[data-file="ghi-chu.txt"]')
    expect(eicar).to_have_attribute("data-state", "quarantined")
    expect(eicar.locator(".reason")).to_have_attribute("data-code", "malicious_content")
    expect(eicar.locator(".reason")).to_contain_text(re.compile("eicar", re.I))
    expect(eicar.locator("a.button")).to_have_count(0)
    js = secretary.locator('tr[data-file="co-javascript.pdf"]')
    expect(js).to_have_attribute("data-state", "ready")
    expect(js.locator(".disarmed")).to_contain_text("JavaScript")
    expect(secretary.locator('#uploads tr[data-state="ready"]')).to_have_count(19)
    # The server agrees with the page: 19 ready versions in the item's dossier, one quarantined.
    states = sorted(DocumentVersion.objects.filter(document__dossier_entries__item=item).values_list("state", flat=True))
    assert states == ["quarantined"] + ["ready"] * 19
    assert DossierEntry.objects.filter(item=item).count() == 20

    # The secretary's dossier shows the quarantined upload with its state and reason.
    eicar_doc = DocumentVersion.objects.get(filename="ghi-chu.txt").document_id
    secretary.locator("#dossier-link").click()
    expect(secretary.locator("table.dossier tbody tr")).to_have_count(20)
    refused = secretary.locator(f'tr[data-document="{eicar_doc}"]')
    expect(refused.locator(".version-state")).to_have_attribute("data-state", "quarantined")
    expect(refused.locator("a.button")).to_have_count(0)

    # A member on a tablet: the dossier, a document in the reader, the watermark, a note.
    member = cabinet.members[0]
    tablet = new_page()
    sign_in(tablet, member)
    tablet.goto(f"/documents/meetings/{cabinet.meeting.pk}/dossier/")
    land = DocumentVersion.objects.get(filename="van-ban-01.pdf")
    # The quarantined file never had a readable version: not in the member's dossier at all
    # (not "being checked" forever); every row the member sees can be opened.
    expect(tablet.locator("table.dossier tbody tr")).to_have_count(19)
    expect(tablet.locator("table.dossier tbody tr a.button")).to_have_count(19)
    expect(tablet.locator(f'tr[data-document="{eicar_doc}"]')).to_have_count(0)
    expect(tablet.locator(".version-state")).to_have_count(0)
    tablet.locator(f'tr[data-document="{land.document_id}"] a.button').click()
    expect(tablet).to_have_url(re.compile(rf"/documents/versions/{land.pk}/read/$"))
    expect(tablet.locator("#reader")).to_have_attribute("data-rendered", "1", timeout=30_000)
    expect(tablet.locator("#text-layer")).to_contain_text("đất đai")
    watermark = tablet.locator("#watermark").get_attribute("data-text") or ""
    assert member.display_name in watermark and member.username in watermark
    tablet.locator("#note-text").fill("Đề nghị làm rõ phương án bồi thường")
    tablet.locator("#place-note").click()
    tablet.locator("#page").click(position={"x": 120, "y": 80})
    expect(tablet.locator("#annotation-list li")).to_have_count(1)
    assert Annotation.objects.get(author=member).note == "Đề nghị làm rõ phương án bồi thường"

    # Finding it by typing words without diacritics.
    tablet.goto("/documents/search/")
    tablet.locator("#q").fill("quan ly dat dai quy hoach")
    tablet.locator("#q").press("Enter")
    hits = tablet.locator("#hits li")
    expect(hits).to_have_count(3)  # files 1, 7 and 13 carry that topic
    expect(hits.first).to_contain_text("van ban")
    expect(hits.first.locator("mark").first).to_be_visible()
