"""A member on a tablet (Chromium): opens a dossier document in the reader, sees page 1 with the
watermark, pins a note, highlights text, and finds a document by typing words without accents."""

from __future__ import annotations

import io
import re

import pytest
from playwright.sync_api import expect

from ecabinet.documents import actions, pipeline
from ecabinet.documents.models import Annotation, DocumentVersion
from ecabinet.documents.tests import text_samples as ts
from ecabinet.web.tests.conftest import browser, new_page  # noqa: F401 - fixtures
from ecabinet.web.tests.test_browser import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def put_in_dossier(cabinet, data: bytes, name: str, title: str) -> DocumentVersion:
    version = actions.create_document(
        acting_user=cabinet.office_secretary,
        stream=io.BytesIO(data),
        filename=name,
        title=title,
        owner_organisation=cabinet.office,
        meeting=cabinet.meeting,
        item=cabinet.items[0],
        inline=True,
    )
    assert pipeline.process_version(version.pk) == DocumentVersion.State.READY
    return version


def test_member_reads_annotates_and_searches_without_accents(cabinet, new_page):  # noqa: F811 - fixture
    land = put_in_dossier(cabinet, ts.pdf([ts.LAND, ts.BUDGET, ts.FRENCH]), "qd.pdf", "Quyết định về đất đai")
    put_in_dossier(cabinet, ts.docx([[ts.BUDGET]]), "ns.docx", "Tờ trình ngân sách")
    member = cabinet.members[0]
    page = new_page()
    sign_in(page, member)

    page.goto(f"/documents/meetings/{cabinet.meeting.pk}/dossier/")
    page.locator(f'tr[data-document="{land.document_id}"] a.button').click()
    expect(page).to_have_url(re.compile(rf"/documents/versions/{land.pk}/read/$"))
    reader = page.locator("#reader")
    expect(reader).to_have_attribute("data-rendered", "1", timeout=30_000)
    # Page 1 is drawn (not a blank canvas) and its text layer holds the Vietnamese words.
    inked = page.evaluate(
        """() => { const c = document.getElementById('pdf-canvas'); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                   let dark = 0; for (let i = 0; i < d.length; i += 4) if (d[i] < 128) dark++; return dark; }"""
    )
    assert inked > 200
    expect(page.locator("#text-layer")).to_contain_text("đất đai")
    # The watermark names the viewer, the time and the device, over the page.
    watermark = page.locator("#watermark")
    text = watermark.get_attribute("data-text") or ""
    assert member.display_name in text and member.username in text and "Linux" in text
    assert page.evaluate("() => document.getElementById('watermark').width") > 100
    # Thumbnails come from the server; all three pages are listed.
    expect(page.locator("#thumbs button")).to_have_count(3)
    page.locator('#thumbs button[data-page="2"]').click()
    expect(reader).to_have_attribute("data-rendered", "2")
    expect(page.locator("#text-layer")).to_contain_text("ngân sách")

    # A note pinned on page 2, kept on the server.
    page.locator("#note-text").fill("Hỏi lại Bộ Tài chính về dự toán")
    page.locator("#place-note").click()
    page.locator("#page").click(position={"x": 120, "y": 80})
    expect(page.locator("#annotation-list li")).to_have_count(1)
    expect(page.locator("#marks .mark.note")).to_have_count(1)
    note = Annotation.objects.get(author=member)
    assert note.page == 2 and note.kind == "note" and note.note == "Hỏi lại Bộ Tài chính về dự toán"

    # Highlight words selected in the text layer of page 1.
    page.locator('#thumbs button[data-page="1"]').click()
    expect(reader).to_have_attribute("data-rendered", "1")
    page.evaluate(
        """() => { const span = [...document.querySelectorAll('#text-layer span')].find((s) => s.textContent.includes('đất đai'));
                   const range = document.createRange(); range.selectNodeContents(span);
                   const sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(range); }"""
    )
    page.locator("#highlight").click()
    expect(page.locator("#annotation-list li")).to_have_count(2)
    highlight = Annotation.objects.get(author=member, kind="highlight")
    assert highlight.page == 1 and "đất đai" in highlight.quote and highlight.rects

    # In-document search, without accents.
    page.locator("#find-q").fill("ngan sach")
    page.locator("#find button").click()
    expect(page.locator('#find-results a[data-page="2"]')).to_have_count(1)

    # Finding a document anywhere by typing words without diacritics.
    page.goto("/documents/search/")
    page.locator("#q").fill("quyet dinh dat dai")
    page.locator("#q").press("Enter")
    hits = page.locator("#hits li")
    expect(hits).to_have_count(1)
    expect(hits.first).to_contain_text("Quyết định về đất đai")
    expect(hits.first.locator("mark").first).to_have_text("Quyết")
    hits.first.locator("a").click()
    expect(page.locator("#reader")).to_have_attribute("data-rendered", "1", timeout=30_000)
