"""A secretary on a tablet (Chromium) registers a secret paper document from the meeting's
dossier, hands a copy to the chair and records its return; the dossier then lists the record as
a paper-only row, never as a file to read."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from ecabinet.documents.models import CopyMovement, Document, RegistryRecord, StoredBlob
from ecabinet.identity.models import Clearance
from ecabinet.web.tests.conftest import browser, new_page  # noqa: F401 - fixtures
from ecabinet.web.tests.test_browser import assert_fits_width, assert_tap_targets, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_secretary_registers_a_secret_paper_document_and_hands_out_a_copy(cabinet, new_page):  # noqa: F811 - fixture
    keeper = cabinet.office_secretary
    keeper.clearance = Clearance.SECRET
    keeper.save(update_fields=["clearance"])
    page = new_page()
    sign_in(page, keeper)
    page.goto(f"/documents/meetings/{cabinet.meeting.pk}/dossier/")
    page.locator("#registry-link").click()
    page.locator("#new-record").click()
    expect(page).to_have_url(re.compile(r"/documents/registry/new/\?meeting=\d+$"))
    assert_fits_width(page)
    assert_tap_targets(page)
    form = page.locator("#record-form")
    form.locator("[name=number_symbol]").fill("12/TM-VPCP")
    form.locator("[name=title]").fill("Phương án bảo vệ tối mật")
    form.locator("[name=classification]").select_option(str(Clearance.SECRET))
    form.locator("[name=copies_total]").fill("2")
    form.locator("[name=item]").select_option(str(cabinet.items[0].pk))
    form.get_by_role("button").click()

    rec = RegistryRecord.objects.get()
    expect(page).to_have_url(re.compile(rf"/documents/registry/{rec.pk}/$"))
    expect(page.locator("h1")).to_contain_text("Phương án bảo vệ tối mật")
    assert_fits_width(page)
    assert_tap_targets(page)
    hand_out = page.locator("#hand-out-form")
    hand_out.locator("[name=copy_number]").select_option("1")
    hand_out.locator("[name=holder]").select_option(str(cabinet.chair.pk))
    hand_out.locator("[name=note]").fill("Trao tại phòng họp")
    hand_out.get_by_role("button").click()
    expect(page.locator('#copies-out tr[data-copy="1"]')).to_contain_text(cabinet.chair.display_name)
    page.locator("#return-1").click()
    expect(page.locator("#none-out")).to_be_visible()
    expect(page.locator("#movements tbody tr")).to_have_count(2)
    assert list(CopyMovement.objects.order_by("pk").values_list("kind", "copy_number", "holder")) == [
        ("handed_out", 1, cabinet.chair.pk),
        ("returned", 1, cabinet.chair.pk),
    ]

    # The dossier shows it as a paper-only row: custodian, link to the record, nothing to open.
    page.goto(f"/documents/meetings/{cabinet.meeting.pk}/dossier/")
    row = page.locator(f'tr.paper-only[data-record="{rec.pk}"]')
    expect(row).to_contain_text("Phương án bảo vệ tối mật")
    expect(row).to_contain_text(keeper.display_name)
    expect(row.locator("a.button")).to_have_count(0)
    expect(page.locator("tr[data-document]")).to_have_count(0)
    assert not Document.objects.exists() and not StoredBlob.objects.exists()
