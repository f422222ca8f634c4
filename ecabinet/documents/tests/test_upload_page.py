"""The secretary's upload page and the paper registry pages (server side; the browser test
drives the page itself): who may open them, what they offer, and that a `secret` document
exists only as a registry record — never in a dossier, a list, search or the upload choices."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from ecabinet.documents import actions, search
from ecabinet.documents.models import Document, RegistryRecord
from ecabinet.identity.models import Clearance, Role
from ecabinet.identity.tests.factories import UserFactory
from ecabinet.security.tests import samples

pytestmark = pytest.mark.django_db


def test_upload_page_offers_items_and_levels_up_to_the_limit(cabinet, login_client):
    secretary = cabinet.office_secretary
    secretary.clearance = Clearance.TOP_SECRET
    secretary.save(update_fields=["clearance"])
    page = login_client(secretary).get(f"/documents/meetings/{cabinet.meeting.pk}/upload/?item={cabinet.items[1].pk}")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="drop-zone"' in html and 'id="upload-files"' in html and "documents/upload.js" in html
    for item in cabinet.items:
        assert f'<option value="{item.pk}"' in html
    assert f'<option value="{cabinet.items[1].pk}" selected>' in html
    levels = re.findall(r'<select id="upload-classification".*?</select>', html, re.S)[0]
    offered = re.findall(r'<option value="(\w+)"', levels)
    # The secretary is cleared for everything, but the government's electronic limit stops at confidential.
    assert offered == ["public", "internal", "confidential"]
    states = json.loads(re.search(r'<script id="state-labels" type="application/json">(.*?)</script>', html, re.S).group(1))
    assert {"queued", "scanning", "ready", "quarantined", "failed"} <= set(states)


def test_upload_page_is_for_secretaries_who_may_add_to_the_meeting(cabinet, login_client):
    path = f"/documents/meetings/{cabinet.meeting.pk}/upload/"
    assert Client().get(path).status_code in (302, 401, 403)
    for user in (cabinet.members[0], cabinet.chair, cabinet.guest):
        assert login_client(user).get(path).status_code == 404
    # A ministry secretary may add only to items they may still edit: none here (all accepted).
    assert login_client(cabinet.ministry_secretary).get(path).status_code == 404
    # The dossier links to the page for those who may use it only.
    assert 'id="upload-link"' in login_client(cabinet.office_secretary).get(f"/documents/meetings/{cabinet.meeting.pk}/dossier/").content.decode()
    assert 'id="upload-link"' not in login_client(cabinet.members[0]).get(f"/documents/meetings/{cabinet.meeting.pk}/dossier/").content.decode()


def test_secret_exists_only_as_a_registry_record(api, cabinet, login_client):
    keeper = UserFactory(role=Role.SECRETARY, organisation=cabinet.office, clearance=Clearance.SECRET, full_name="Văn thư mật")
    # Uploading the secret text is refused, and nothing is stored.
    refused = api.upload(
        keeper, samples.pdf(text="Phương án tối mật"), "toi-mat.pdf", title="Phương án đất đai tối mật", classification="secret", meeting_id=cabinet.meeting.pk
    )
    assert refused.status_code == 422, refused.content
    assert refused.json()["code"] == "classification_not_electronic"
    assert not Document.objects.filter(title__contains="tối mật").exists()
    record = actions.create_registry_record(
        acting_user=keeper,
        organisation=cabinet.office,
        number_symbol="01/TM-VPCP",
        title="Phương án đất đai tối mật",
        classification=Clearance.SECRET,
        custodian=keeper,
        copies_total=3,
        meeting=cabinet.meeting,
        item=cabinet.items[0],
    )
    actions.record_copy_movement(record, kind="handed_out", copy_number=1, holder=cabinet.chair, acting_user=keeper)
    keeper_client = login_client(keeper)
    page = keeper_client.get(f"/documents/meetings/{cabinet.meeting.pk}/registry/").content.decode()
    assert f'data-record="{record.pk}"' in page and "01/TM-VPCP" in page and "Phương án đất đai tối mật" in page
    assert re.search(r"\b1\b[^<]*\b3\b", page.split(f'data-record="{record.pk}"')[1].split("</tr>")[0])
    assert f'data-record="{record.pk}"' in keeper_client.get("/documents/registry/").content.decode()
    # The chair holds copy 1: the record is listed for them; a member without it sees none.
    assert f'data-record="{record.pk}"' in login_client(cabinet.chair).get(f"/documents/meetings/{cabinet.meeting.pk}/registry/").content.decode()
    member_page = login_client(cabinet.members[0]).get(f"/documents/meetings/{cabinet.meeting.pk}/registry/").content.decode()
    assert f'data-record="{record.pk}"' not in member_page and 'id="no-records"' in member_page
    # In the dossier only as a paper-only row (no file, no reader link); not in the document list or search.
    dossier = keeper_client.get(f"/documents/meetings/{cabinet.meeting.pk}/dossier/").content.decode()
    paper_row = dossier.split(f'<tr class="paper-only" data-record="{record.pk}">')[1].split("</tr>")[0]
    assert "Phương án đất đai tối mật" in paper_row and "/read/" not in paper_row and f"/documents/registry/{record.pk}/" in paper_row
    assert "tối mật" not in "".join(re.findall(r"<tr data-document=.*?</tr>", dossier, re.S))
    listed = api.get(keeper, f"/api/v1/documents?meeting_id={cabinet.meeting.pk}").json()
    assert all("tối mật" not in d["title"] for d in listed)
    assert search.search(keeper, "phuong an dat dai toi mat") == []
    assert RegistryRecord.objects.count() == 1
