"""Uploading through the API and the pipeline end to end, and every bad-input answer."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage

from ecabinet.audit.models import AuditEntry
from ecabinet.documents import events
from ecabinet.documents.models import Document, DocumentVersion, StoredBlob
from ecabinet.identity.models import Clearance
from ecabinet.identity.tests.test_api_auth import assert_problem
from ecabinet.security import events as security_events
from ecabinet.security.models import SecurityAlert
from ecabinet.security.tests import samples

pytestmark = pytest.mark.django_db
DOCS = "/api/v1/documents"


def upload_pdf(api, cabinet, data=None, name="to-trinh.pdf", **fields):
    fields.setdefault("title", "Tờ trình dự thảo Nghị định")
    fields.setdefault("item_id", cabinet.items[0].pk)
    return api.upload(cabinet.office_secretary, data or samples.pdf(3), name, **fields)


def test_clean_pdf_becomes_ready_with_page_count_and_is_readable(api, cabinet):
    response = upload_pdf(api, cabinet, number_symbol="12/TTr-BTC", kind="proposal")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["state"] == "ready" and body["page_count"] == 3 and body["detected_type"] == "pdf"
    assert body["number"] == 1 and body["disarm_removed"] == []
    version = DocumentVersion.objects.get(pk=body["id"])
    assert version.document.number_symbol == "12/TTr-BTC"
    # What is stored is ciphertext: the PDF header is nowhere in it.
    with default_storage.open(version.stored.name, "rb") as handle:
        raw = handle.read()
    assert b"%PDF" not in raw and raw.startswith(b"ECABENC1")
    member = cabinet.members[0]
    content = api.get(member, body["content_url"])
    assert content.status_code == 200
    data = b"".join(content.streaming_content)
    assert data.startswith(b"%PDF") and len(data) == body["size"]
    assert content["ETag"] == f'"{body["sha256"]}"'
    assert AuditEntry.objects.filter(event=events.DOCUMENT_READ, actor=member, object_id=str(version.pk)).count() == 1
    assert AuditEntry.objects.filter(event=events.VERSION_READY, object_id=str(version.pk)).exists()


def test_range_requests_and_etags(api, cabinet):
    body = upload_pdf(api, cabinet, data=samples.pdf(40)).json()
    member = cabinet.members[1]
    full = b"".join(api.get(member, body["content_url"]).streaming_content)
    part = api.get(member, body["content_url"], HTTP_RANGE="bytes=100-299")
    assert part.status_code == 206
    assert part["Content-Range"] == f"bytes 100-299/{len(full)}" and part["Content-Length"] == "200"
    assert b"".join(part.streaming_content) == full[100:300]
    tail = api.get(member, body["content_url"], HTTP_RANGE="bytes=-50")
    assert b"".join(tail.streaming_content) == full[-50:]
    beyond = api.get(member, body["content_url"], HTTP_RANGE=f"bytes={len(full) + 10}-")
    assert beyond.status_code == 416 and beyond["Content-Range"] == f"bytes */{len(full)}"
    not_modified = api.get(member, body["content_url"], HTTP_IF_NONE_MATCH=f'"{body["sha256"]}"')
    assert not_modified.status_code == 304
    stale = api.get(member, body["content_url"], HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE='"0000"')
    assert stale.status_code == 200  # a changed file: the whole of it, not a piece of another
    reads = AuditEntry.objects.filter(event=events.DOCUMENT_READ, actor=member).count()
    assert reads == 2  # the full read and the stale If-Range one; ranges not starting at 0 are not an "open"


def test_eicar_is_quarantined_explained_alerted_and_never_served(api, cabinet):
    response = api.upload(cabinet.office_secretary, samples.EICAR, "ghi-chu.txt", title="Ghi chú", item_id=cabinet.items[0].pk)
    assert response.status_code == 201
    body = response.json()
    assert body["state"] == "quarantined" and body["state_reason"] == "malicious_content"
    assert "eicar" in body["state_message"].lower() and body["content_url"] is None
    version = DocumentVersion.objects.get(pk=body["id"])
    assert version.original.purpose == StoredBlob.Purpose.QUARANTINE and version.stored is None
    assert version.original.name.startswith("quarantine/") and default_storage.exists(version.original.name)
    alert = SecurityAlert.objects.get(object_id=str(version.pk))
    assert alert.kind == "malware" and alert.severity == "high" and alert.organisation == cabinet.government
    assert AuditEntry.objects.filter(event=security_events.ALERT_RAISED, object_id=str(alert.pk)).exists()
    assert AuditEntry.objects.filter(event=events.VERSION_QUARANTINED, object_id=str(version.pk)).exists()
    denied = api.get(cabinet.office_secretary, f"{DOCS}/versions/{version.pk}/content")
    assert_problem(denied, 409, "version_not_ready")


def test_eicar_in_zip_in_zip_is_quarantined(api, cabinet):
    body = api.upload(cabinet.office_secretary, samples.eicar_zip_in_zip(), "ho-so.zip", title="Hồ sơ").json()
    assert body["state"] == "quarantined"
    assert any(f["path"] == "inner.zip/docs/eicar.com" for f in body["findings"])


def test_pdf_with_javascript_is_disarmed_and_says_what_was_removed(api, cabinet):
    body = upload_pdf(api, cabinet, data=samples.pdf_with_javascript(), name="js.pdf").json()
    assert body["state"] == "ready"
    removed = " ".join(body["disarm_removed"])
    assert "JavaScript" in removed and "OpenAction" in removed and "embedded file" in removed
    assert {f["name"] for f in body["findings"]} >= {"pdf_active.pdf_javascript"}
    served = b"".join(api.get(cabinet.office_secretary, body["content_url"]).streaming_content)
    assert b"app.alert" not in served


@pytest.mark.parametrize(
    ("data", "name", "reason"),
    [
        (samples.zip_bomb(), "bomb.zip", "archive_bomb"),
        (samples.zip_slip(), "slip.zip", "archive_path"),
        (samples.pdf(), "bao-cao.docx", "type_mismatch"),
        (b"\xff\xd8\xff" + b"not a jpeg at all", "fake.pdf", "type_mismatch"),
        (samples.corrupt_pdf(), "hong.pdf", "corrupt_file"),
        (samples.encrypted_pdf(), "mat-khau.pdf", "pdf_encrypted"),
        (samples.docx(macros=True), "macro.docx", "office_macros"),
    ],
)
def test_refused_content_is_quarantined_with_its_reason(api, cabinet, data, name, reason):
    body = api.upload(cabinet.office_secretary, data, name, title="Tệp").json()
    assert (body["state"], body["state_reason"]) == ("quarantined", reason)
    assert body["state_message"]
    assert SecurityAlert.objects.filter(object_id=str(body["id"])).count() == 1


@pytest.mark.parametrize(
    ("data", "name", "status", "code"),
    [
        (b"", "trong.pdf", 422, "empty_file"),
        (samples.pdf(), "chuong-trinh.exe", 422, "file_refused"),
        (samples.pdf(), "khong-duoi", 422, "file_refused"),
    ],
)
def test_bad_uploads_answer_a_problem_and_store_nothing(api, cabinet, data, name, status, code):
    before = (Document.objects.count(), StoredBlob.objects.count())
    response = api.upload(cabinet.office_secretary, data, name, title="Tệp")
    assert_problem(response, status, code)
    assert (Document.objects.count(), StoredBlob.objects.count()) == before


@pytest.mark.parametrize("name", ["a\x00.pdf", "../x.pdf", "/etc/x.pdf", "x" * 300 + ".pdf"])
def test_names_the_action_refuses(cabinet, name):
    # Through the API Django's parser already strips paths and shortens names; the action, which
    # the bulk import also uses, refuses them outright.
    import io

    from ecabinet.documents import actions, errors

    with pytest.raises(errors.InvalidFilename):
        actions.create_document(
            acting_user=cabinet.office_secretary, stream=io.BytesIO(samples.pdf()), filename=name, title="T", owner_organisation=cabinet.office
        )
    assert not Document.objects.exists()


def test_path_in_the_name_is_reduced_to_the_plain_name(api, cabinet):
    # Django's multipart parser keeps only the last path component; nothing climbs out.
    body = api.upload(cabinet.office_secretary, samples.pdf(), "../../etc/to-trinh.pdf", title="T").json()
    assert body["filename"] == "to-trinh.pdf"


def test_over_limit_upload_is_refused(api, cabinet, settings):
    settings.MAX_UPLOAD_BYTES = 2000
    response = api.upload(cabinet.office_secretary, b"a" * 3000, "lon.txt", title="Lớn")
    assert_problem(response, 413, "file_too_large")
    assert not Document.objects.exists()
    huge = api.upload(cabinet.office_secretary, b"a" * 100_000, "lon.txt", title="Lớn")
    assert_problem(huge, 413, "payload_too_large")


def test_document_above_the_electronic_limit_is_never_stored(api, cabinet):
    cabinet.office_secretary.clearance = Clearance.TOP_SECRET
    cabinet.office_secretary.save()
    response = api.upload(cabinet.office_secretary, samples.pdf(), "toi-mat.pdf", title="Tối mật", classification="secret")
    body = assert_problem(response, 422, "classification_not_electronic")
    assert body["limit"] == "confidential" and "registry" in body["detail"]
    assert not Document.objects.exists() and not StoredBlob.objects.exists()


def test_duplicate_version_is_refused(api, cabinet):
    data = samples.pdf(3)
    first = upload_pdf(api, cabinet, data=data).json()
    path = f"{DOCS}/{first['document_id']}/versions"
    again = api.upload(cabinet.office_secretary, data, "lai.pdf", path=path, change_note="lần 2")
    assert_problem(again, 409, "duplicate_version")
    second = api.upload(cabinet.office_secretary, samples.pdf(4), "v2.pdf", path=path, change_note="Bổ sung phụ lục").json()
    assert second["number"] == 2 and second["change_note"] == "Bổ sung phụ lục"
    versions = api.get(cabinet.members[0], path).json()
    assert [v["number"] for v in versions] == [2, 1] and all(v["state"] == "ready" for v in versions)
    detail = api.get(cabinet.members[0], f"{DOCS}/{first['document_id']}").json()
    assert detail["current_version"]["number"] == 2


def test_anonymous_and_wrong_role_uploads(api, cabinet):
    assert_problem(api.upload(None, samples.pdf(), "a.pdf", title="A"), 401, "not_authenticated")
    assert_problem(api.upload(cabinet.members[0], samples.pdf(), "a.pdf", title="A"), 403, "forbidden")
    assert not Document.objects.exists()
