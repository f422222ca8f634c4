"""What each person is shown of a dossier document whose newest version is not ready.

The secretary who uploaded sees every version's state and reason, on the dossier page and in the
API. A member sees only documents with a ready version, at that version: a document still queued,
being scanned, held for a scanner, quarantined or failed is not in their dossier, lists or counts
(never "being checked" forever), and a refused or pending newer version is announced in one line,
without the reason or the scan findings.
"""

from __future__ import annotations

import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from ecabinet.documents import actions, permissions, pipeline
from ecabinet.documents.models import Document, DocumentVersion
from ecabinet.notify.actions import document_reference
from ecabinet.security.tests import samples

pytestmark = pytest.mark.django_db
State = DocumentVersion.State

# The states a version waits or ends in before being ready, with the reason the pipeline gives.
UNFINISHED = {
    "queued": (State.QUEUED, "", ""),
    "scanning": (State.SCANNING, "", ""),
    "held": (State.HELD, "scanner_unavailable", "The virus scanner clamav did not answer."),
    "failed": (State.FAILED, "processing_error", "Processing failed unexpectedly (ValueError)."),
}


def _queued(api, user, data, name, **fields):
    """An upload whose pipeline has not run yet (its on-commit task never fires in a test)."""
    body = {"file": SimpleUploadedFile(name, data), **{k: str(v) for k, v in fields.items()}}
    response = Client().post("/api/v1/documents", body, **api.headers(user))
    assert response.status_code == 201, response.content
    return DocumentVersion.objects.get(pk=response.json()["id"])


@pytest.fixture
def dossier(api, cabinet):
    secretary, item = cabinet.office_secretary, cabinet.items[0]
    docs = {}
    ready = api.upload(secretary, samples.pdf(text="Sẵn sàng"), "ready.pdf", title="Sẵn sàng", item_id=item.pk).json()
    assert ready["state"] == "ready"
    docs["ready"] = ready["document_id"]
    quarantined = api.upload(secretary, samples.EICAR, "ghi-chu.txt", title="Bị cách ly", item_id=item.pk).json()
    assert quarantined["state"] == "quarantined" and quarantined["state_reason"] == "malicious_content"
    docs["quarantined"] = quarantined["document_id"]
    for n, (name, (state, reason, message)) in enumerate(UNFINISHED.items()):
        version = _queued(api, secretary, samples.pdf(text=f"Tệp {n}"), f"{name}.pdf", title=f"Trạng thái {name}", item_id=item.pk)
        DocumentVersion.objects.filter(pk=version.pk).update(state=state, state_reason=reason, state_message=message)
        docs[name] = version.document_id
    # A ready first version with a quarantined second one, and one with a second still queued.
    newer_refused = api.upload(secretary, samples.pdf(text="Bản một"), "v1.pdf", title="Bản mới bị từ chối", item_id=item.pk).json()
    second = api.upload(secretary, samples.EICAR, "v2.txt", path=f"/api/v1/documents/{newer_refused['document_id']}/versions").json()
    assert second["state"] == "quarantined" and second["number"] == 2
    docs["newer_refused"] = newer_refused["document_id"]
    newer_checking = api.upload(secretary, samples.pdf(text="Bản hai"), "w1.pdf", title="Bản mới đang kiểm tra", item_id=item.pk).json()
    # A second version whose pipeline has not run (its on-commit task never fires in a test).
    document = Document.objects.get(pk=newer_checking["document_id"])
    actions.add_version(document, acting_user=secretary, stream=io.BytesIO(samples.pdf(text="Bản hai, sửa")), filename="w2.pdf")
    docs["newer_checking"] = newer_checking["document_id"]
    return docs


MEMBER_SEES = {"ready", "newer_refused", "newer_checking"}


def test_member_api_lists_only_readable_documents_at_their_ready_version(api, cabinet, dossier):
    member, meeting = cabinet.members[0], cabinet.meeting
    listed = api.get(member, f"/api/v1/documents?meeting_id={meeting.pk}").json()
    by_id = {d["id"]: d for d in listed}
    assert set(by_id) == {dossier[k] for k in MEMBER_SEES}
    for doc in listed:
        assert doc["current_version"]["state"] == "ready"
        assert doc["latest_version"]["id"] == doc["current_version"]["id"]  # never an unfinished version
    assert by_id[dossier["ready"]]["newer_version_status"] is None
    assert by_id[dossier["newer_refused"]]["newer_version_status"] == "refused"
    assert by_id[dossier["newer_checking"]]["newer_version_status"] == "checking"
    # The refused version itself, its reason and findings: not for the member.
    refused_v2 = DocumentVersion.objects.get(document_id=dossier["newer_refused"], number=2)
    assert api.get(member, f"/api/v1/documents/versions/{refused_v2.pk}").status_code == 404
    versions = api.get(member, f"/api/v1/documents/{dossier['newer_refused']}/versions").json()
    assert [v["number"] for v in versions] == [1]
    detail = api.get(member, f"/api/v1/documents/{dossier['newer_refused']}").json()
    assert [v["number"] for v in detail["versions"]] == [1]
    assert "malicious" not in str(detail).lower() and "eicar" not in str(detail).lower()
    # A document with no ready version does not exist for the member, in any state.
    for name in ("quarantined", *UNFINISHED):
        assert api.get(member, f"/api/v1/documents/{dossier[name]}").status_code == 404, name
        version = DocumentVersion.objects.get(document_id=dossier[name])
        assert api.get(member, f"/api/v1/documents/versions/{version.pk}").status_code == 404, name
    entries = api.get(member, f"/api/v1/dossiers/{meeting.pk}").json()
    assert {e["document_id"] for e in entries} == {dossier[k] for k in MEMBER_SEES}
    assert {e["document_id"]: e["newer_version_status"] for e in entries}[dossier["newer_refused"]] == "refused"
    # Counts agree with lists (search, the item filter) and a message referencing one is restricted.
    assert len(permissions.visible_documents(member, item=cabinet.items[0])) == len(MEMBER_SEES)
    assert document_reference(dossier["quarantined"], member)["restricted"] is True
    assert document_reference(dossier["ready"], member)["restricted"] is False


def test_secretary_api_shows_every_state_and_reason(api, cabinet, dossier):
    secretary = cabinet.office_secretary
    listed = {d["id"]: d for d in api.get(secretary, f"/api/v1/documents?meeting_id={cabinet.meeting.pk}").json()}
    assert set(listed) == set(dossier.values())
    latest = {name: listed[doc_id]["latest_version"] for name, doc_id in dossier.items()}
    assert latest["quarantined"]["state"] == "quarantined" and latest["quarantined"]["state_reason"] == "malicious_content"
    assert latest["quarantined"]["findings"] and listed[dossier["quarantined"]]["current_version"] is None
    for name, (state, reason, _message) in UNFINISHED.items():
        assert (latest[name]["state"], latest[name]["state_reason"]) == (state, reason)
    assert latest["newer_refused"]["state"] == "quarantined" and listed[dossier["newer_refused"]]["current_version"]["number"] == 1
    assert latest["newer_checking"]["state"] == "queued"
    versions = api.get(secretary, f"/api/v1/documents/{dossier['newer_refused']}/versions").json()
    assert [(v["number"], v["state"]) for v in versions] == [(2, "quarantined"), (1, "ready")]


def _rows(html):
    return {int(doc): row for doc, row in re.findall(r'<tr data-document="(\d+)">(.*?)</tr>', html, re.S)}


def test_member_dossier_page_shows_what_can_be_read_and_says_when_a_newer_upload_was_refused(cabinet, dossier, login_client):
    html = login_client(cabinet.members[0]).get(f"/documents/meetings/{cabinet.meeting.pk}/dossier/").content.decode()
    rows = _rows(html)
    assert set(rows) == {dossier[k] for k in MEMBER_SEES}
    assert all("/read/" in row for row in rows.values())  # every row can be opened
    assert 'data-newer="refused"' in rows[dossier["newer_refused"]] and 'data-newer="checking"' in rows[dossier["newer_checking"]]
    assert "data-newer" not in rows[dossier["ready"]]
    assert "version-state" not in html and "malicious" not in html.lower() and "eicar" not in html.lower()
    v1 = DocumentVersion.objects.get(document_id=dossier["newer_refused"], number=1)
    assert f"/documents/versions/{v1.pk}/read/" in rows[dossier["newer_refused"]]


def test_secretary_dossier_page_shows_each_state_and_its_reason(cabinet, dossier, login_client):
    html = login_client(cabinet.office_secretary).get(f"/documents/meetings/{cabinet.meeting.pk}/dossier/").content.decode()
    rows = _rows(html)
    assert set(rows) == set(dossier.values())
    shown = {name: re.search(r'class="version-state[^"]*" data-state="(\w+)"', rows[doc_id]) for name, doc_id in dossier.items()}
    assert shown["ready"] is None
    assert shown["quarantined"].group(1) == "quarantined" and "/read/" not in rows[dossier["quarantined"]]
    assert "eicar" in rows[dossier["quarantined"]].lower()  # the pipeline's message names what was found
    for name, (state, _reason, message) in UNFINISHED.items():
        assert shown[name].group(1) == state, name
        if message:
            assert message in rows[dossier[name]]
    # A ready older version is still readable, next to the refused newer one's state.
    assert shown["newer_refused"].group(1) == "quarantined" and "/read/" in rows[dossier["newer_refused"]]
    assert "being checked" not in html


def test_a_document_appears_for_members_once_a_version_is_ready(api, cabinet, dossier, login_client):
    member = cabinet.members[0]
    held = DocumentVersion.objects.get(document_id=dossier["held"])
    assert not permissions.can_see_document(member, held.document)
    DocumentVersion.objects.filter(pk=held.pk).update(state=State.QUEUED, state_reason="", state_message="")
    assert pipeline.process_version(held.pk) == State.READY
    assert permissions.can_see_document(member, held.document)
    html = login_client(member).get(f"/documents/meetings/{cabinet.meeting.pk}/dossier/").content.decode()
    assert dossier["held"] in _rows(html)
