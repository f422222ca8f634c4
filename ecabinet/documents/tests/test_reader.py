"""The tablet reader: the page with PDF.js and the watermark data, view-only confidential
documents, audit of opens and downloads, annotations (private, shared, carried to a new version
or orphaned), read tracking for the secretary, the live event when a version is ready, and OCR
through the pipeline (and its absence)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders

from ecabinet.audit.models import AuditEntry
from ecabinet.documents import events, ingest, search
from ecabinet.documents.core.ocr import Tesseract
from ecabinet.documents.models import Annotation, DocumentVersion, PageText, ReadProgress, VersionText
from ecabinet.documents.tests import text_samples as ts
from ecabinet.identity.models import Clearance, Role
from ecabinet.identity.tests.factories import GovernmentFactory, UserFactory
from ecabinet.identity.tests.test_api_auth import assert_problem

pytestmark = pytest.mark.django_db
READER = "/api/v1/reader"


def upload(api, cabinet, pages, *, title="Quyết định đất đai", classification="internal", item=0, name="qd.pdf"):
    if classification != "internal":
        cabinet.office_secretary.clearance = Clearance.CONFIDENTIAL
        cabinet.office_secretary.save()
        target = cabinet.items[item]
        target.classification = Clearance.CONFIDENTIAL
        target.save()
    body = api.upload(cabinet.office_secretary, ts.pdf(pages), name, title=title, item_id=cabinet.items[item].pk, classification=classification).json()
    assert body["state"] == "ready", body
    return body


def new_version(api, cabinet, document_id, pages):
    body = api.upload(cabinet.office_secretary, ts.pdf(pages), "v.pdf", path=f"/api/v1/documents/{document_id}/versions").json()
    assert body["state"] == "ready", body
    return body


def reader_data(response) -> dict[str, Any]:
    match = re.search(r'<script id="reader-data" type="application/json">(.*?)</script>', response.content.decode(), re.S)
    assert match, response.content[:500]
    return json.loads(match.group(1))


# --- the reader page ---------------------------------------------------------------------------


def test_reader_page_ships_pdfjs_and_the_watermark(api, cabinet, login_client):
    body = upload(api, cabinet, [ts.LAND, ts.BUDGET])
    member = cabinet.members[0]
    client = login_client(member)
    page = client.get(f"/documents/versions/{body['id']}/read/", HTTP_USER_AGENT="Mozilla/5.0 (iPad; CPU OS 17_0) AppleWebKit Safari/605")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'type="module" src="/static/documents/reader.js"' in html
    data = reader_data(page)
    assert data["view_only"] is False and data["download_url"] == data["content_url"]
    assert data["watermark"]["name"] == member.display_name and data["watermark"]["username"] == member.username
    assert data["watermark"]["device"].startswith("iPad · Safari")
    assert data["page_count"] == 2 and data["thumbnails"] is True and data["extraction"]["text_pages"] == 2
    assert 'id="download"' in html and "ticket" not in data
    ticket = re.search(r'data-ticket="([^"]+)"', html).group(1)
    assert ticket
    # PDF.js is served from the project's own static files, with its licence; the reader imports it.
    for name in ("pdf.min.mjs", "pdf.worker.min.mjs", "LICENSE"):
        assert finders.find(f"documents/pdfjs/{name}"), name
    reader_js = Path(finders.find("documents/reader.js")).read_text(encoding="utf-8")
    assert 'from "./pdfjs/pdf.min.mjs"' in reader_js and "disableAutoFetch: true" in reader_js
    opened = AuditEntry.objects.filter(event=events.DOCUMENT_OPENED, actor=member, object_id=str(body["id"])).get()
    assert opened.details["device"].startswith("iPad")


def test_reader_page_refuses_anonymous_outsiders_and_unready_versions(api, cabinet, login_client):
    body = upload(api, cabinet, [ts.LAND])
    path = f"/documents/versions/{body['id']}/read/"
    from django.test import Client

    anonymous = Client().get(path)
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    outsider = UserFactory(role=Role.MEMBER, organisation=cabinet.ministry)
    assert login_client(outsider).get(path).status_code == 404
    other_government = UserFactory(role=Role.MEMBER, organisation=GovernmentFactory())
    assert login_client(other_government).get(path).status_code == 404
    DocumentVersion.objects.filter(pk=body["id"]).update(state=DocumentVersion.State.QUARANTINED)
    assert login_client(cabinet.members[0]).get(path).status_code == 404
    assert api.post_json(cabinet.members[0], f"{READER}/versions/{body['id']}/open", {}).status_code == 404


def test_public_documents_have_no_watermark(api, cabinet):
    body = api.upload(cabinet.office_secretary, ts.pdf([ts.LAND]), "p.pdf", title="Công khai", item_id=cabinet.items[0].pk, classification="public").json()
    opened = api.post_json(cabinet.members[0], f"{READER}/versions/{body['id']}/open", {})
    assert opened.status_code == 200 and opened.json()["watermark"] is None


def test_confidential_is_view_only_ranges_with_the_readers_ticket(api, cabinet, login_client):
    body = upload(api, cabinet, [ts.LAND, ts.BUDGET], title="Kế hoạch mật", classification="confidential", item=1)
    member = cabinet.members[0]
    member.clearance = Clearance.CONFIDENTIAL
    member.save()
    page = login_client(member).get(f"/documents/versions/{body['id']}/read/")
    data = reader_data(page)
    assert data["view_only"] is True and data["download_url"] is None
    assert 'id="download"' not in page.content.decode() and 'id="view-only"' in page.content.decode()
    content = body["content_url"]
    # A plain download, with or without a range, is refused and audited.
    refused = api.get(member, content)
    assert_problem(refused, 403, "view_only")
    assert_problem(api.get(member, content, HTTP_RANGE="bytes=0-99"), 403, "view_only")
    assert AuditEntry.objects.filter(event=events.DOWNLOAD_REFUSED, actor=member).count() == 2
    # The reader's ranged reads carry its ticket and pass (and the first one is audited as a read).
    ticket = api.post_json(member, f"{READER}/versions/{body['id']}/open", {}).json()["ticket"]
    part = api.get(member, content, HTTP_RANGE="bytes=0-99", HTTP_X_READER_TICKET=ticket)
    assert part.status_code == 206 and b"".join(part.streaming_content).startswith(b"%PDF")
    assert AuditEntry.objects.filter(event=events.DOCUMENT_READ, actor=member, object_id=str(body["id"])).count() == 1
    # Even with the ticket, the whole file in one response is not handed out.
    assert_problem(api.get(member, content, HTTP_X_READER_TICKET=ticket), 403, "view_only")
    # Someone else's ticket, or one for another version, does not work.
    colleague = cabinet.members[1]
    colleague.clearance = Clearance.CONFIDENTIAL
    colleague.save()
    assert_problem(api.get(colleague, content, HTTP_RANGE="bytes=0-99", HTTP_X_READER_TICKET=ticket), 403, "view_only")
    assert_problem(api.get(member, content, HTTP_RANGE="bytes=0-99", HTTP_X_READER_TICKET=ticket + "x"), 403, "view_only")


def test_internal_documents_download_and_every_read_is_audited(api, cabinet):
    body = upload(api, cabinet, [ts.LAND])
    member = cabinet.members[0]
    assert api.get(member, body["content_url"]).status_code == 200
    assert api.get(member, body["content_url"], HTTP_RANGE="bytes=0-49").status_code == 206
    assert api.get(member, body["content_url"], HTTP_RANGE="bytes=50-99").status_code == 206
    # A whole download and the first range (the "open") each leave an entry; later ranges do not.
    assert AuditEntry.objects.filter(event=events.DOCUMENT_READ, actor=member, object_id=str(body["id"])).count() == 2


# --- annotations -------------------------------------------------------------------------------


def annotate(api, user, version_id, **fields):
    body = {"page": 1, "quote": "quản lý đất đai", "rects": [[0.1, 0.2, 0.3, 0.02]], **fields}
    return api.post_json(user, f"{READER}/versions/{version_id}/annotations", body)


def listed(api, user, document_id):
    response = api.get(user, f"{READER}/documents/{document_id}/annotations")
    assert response.status_code == 200, response.content
    return response.json()


def test_private_and_shared_annotations(api, cabinet):
    body = upload(api, cabinet, [ts.LAND, ts.BUDGET])
    doc_id = body["document_id"]
    alice, bob = cabinet.members[0], cabinet.members[1]
    private = annotate(api, alice, body["id"], note="Xem lại điều này")
    assert private.status_code == 201, private.content
    note = private.json()
    assert note["mine"] and not note["shared"] and note["kind"] == "highlight" and note["quote"] == "quản lý đất đai"
    shared = annotate(api, alice, body["id"], page=2, quote="dự toán ngân sách", kind="note", note="Cần thảo luận", shared=True).json()
    # Alice sees both, from any device (the server keeps them); Bob only the shared one.
    assert [a["id"] for a in listed(api, alice, doc_id)] == [note["id"], shared["id"]]
    bob_sees = listed(api, bob, doc_id)
    assert [a["id"] for a in bob_sees] == [shared["id"]] and bob_sees[0]["mine"] is False
    # Bob cannot change or delete Alice's notes: the private one does not exist for him.
    assert_problem(api.post_json(bob, f"{READER}/annotations/{note['id']}", {"note": "x"}, method="patch"), 404, "not_found")
    assert_problem(api.post_json(bob, f"{READER}/annotations/{shared['id']}", {"note": "x"}, method="patch"), 403, "forbidden")
    assert api.post_json(bob, f"{READER}/annotations/{shared['id']}", None, method="delete").status_code == 403
    # Alice shares the first, then deletes the second; each change is audited without the note text.
    patched = api.post_json(alice, f"{READER}/annotations/{note['id']}", {"shared": True, "color": "green"}, method="patch")
    assert patched.status_code == 200 and patched.json()["shared"] and patched.json()["color"] == "green"
    assert api.post_json(alice, f"{READER}/annotations/{shared['id']}", None, method="delete").status_code == 204
    assert [a["id"] for a in listed(api, bob, doc_id)] == [note["id"]]
    entries = AuditEntry.objects.filter(event__startswith="documents.annotation.", actor=alice)
    assert sorted(e.event for e in entries) == sorted(
        [events.ANNOTATION_CREATED, events.ANNOTATION_CREATED, events.ANNOTATION_UPDATED, events.ANNOTATION_DELETED]
    )
    assert all("Xem lại" not in json.dumps(e.details, ensure_ascii=False) for e in entries)
    # Outsiders and the anonymous: nothing.
    outsider = UserFactory(role=Role.MEMBER, organisation=cabinet.ministry)
    assert api.get(outsider, f"{READER}/documents/{doc_id}/annotations").status_code == 404
    assert annotate(api, outsider, body["id"]).status_code == 404
    assert api.get(None, f"{READER}/documents/{doc_id}/annotations").status_code == 401


def test_bad_annotations_are_refused_and_nothing_is_stored(api, cabinet):
    body = upload(api, cabinet, [ts.LAND])
    member = cabinet.members[0]
    assert_problem(annotate(api, member, body["id"], page=3), 422, "invalid_annotation")
    assert_problem(annotate(api, member, body["id"], rects=[[0.1, 0.2, 1.5, 0.1]]), 422, "invalid_annotation")
    assert_problem(annotate(api, member, body["id"], rects=[], quote=""), 422, "invalid_annotation")
    assert_problem(annotate(api, member, body["id"], kind="note", note=""), 422, "invalid_annotation")
    assert_problem(annotate(api, member, body["id"], color="black"), 422, "invalid_annotation")
    assert not Annotation.objects.exists()


def test_annotations_follow_their_text_to_a_new_version_or_are_orphaned(api, cabinet):
    v1 = upload(api, cabinet, [ts.LAND, ts.BUDGET])
    member = cabinet.members[0]
    moved = annotate(api, member, v1["id"], page=1, quote="quy hoạch sử dụng đất", prefix="đất đai và", suffix="của Chính phủ").json()
    removed = annotate(api, member, v1["id"], page=2, quote="dự toán ngân sách", rects=[]).json()
    pinned = annotate(api, member, v1["id"], page=2, quote="", kind="note", note="Hỏi Bộ Tài chính", rects=[[0.5, 0.5, 0, 0]]).json()
    # Version 2: the land text moved to page 2, the budget paragraph is gone.
    v2 = new_version(api, cabinet, v1["document_id"], ["Lời nói đầu.", ts.LAND, ts.FRENCH])
    after = {a["id"]: a for a in listed(api, member, v1["document_id"])}
    assert after[moved["id"]]["version_id"] == v2["id"] and after[moved["id"]]["page"] == 2
    assert after[moved["id"]]["carried_from_version_id"] == v1["id"] and not after[moved["id"]]["orphaned"]
    assert after[moved["id"]]["rects"] == []  # measured on the old layout; the reader finds the quote again
    assert after[removed["id"]]["orphaned"] and after[removed["id"]]["version_id"] == v1["id"]
    assert after[pinned["id"]]["version_id"] == v2["id"] and after[pinned["id"]]["page"] == 2 and after[pinned["id"]]["rects"] == [[0.5, 0.5, 0, 0]]
    carried = AuditEntry.objects.get(event=events.ANNOTATIONS_CARRIED, object_id=str(v2["id"]))
    assert carried.details["carried"] == 2 and carried.details["orphaned"] == 1
    # Made on the old version after the new one was ready (a reader left open): it follows at once.
    late = annotate(api, member, v1["id"], page=1, quote="Quyết định về quản lý").json()
    assert late["version_id"] == v2["id"] and late["page"] == 2


# --- read tracking -----------------------------------------------------------------------------


def test_progress_and_the_secretarys_read_report(api, cabinet, login_client):
    land = upload(api, cabinet, [ts.LAND, ts.BUDGET, ts.FRENCH, "Phụ lục."])
    budget = upload(api, cabinet, [ts.BUDGET], title="Tờ trình ngân sách", name="ns.pdf")
    reader, idle = cabinet.members[0], cabinet.members[1]
    assert api.post_json(reader, f"{READER}/versions/{land['id']}/open", {}).status_code == 200
    first = api.post_json(reader, f"{READER}/versions/{land['id']}/progress", {"pages": [1, 2]})
    assert first.status_code == 200 and first.json() == {"max_page": 2, "page_count": 4, "pages_seen": 2}
    second = api.post_json(reader, f"{READER}/versions/{land['id']}/progress", {"pages": [2, 3, 99, -1]})
    assert second.json() == {"max_page": 3, "page_count": 4, "pages_seen": 3}
    assert ReadProgress.objects.get(user=reader, version_id=land["id"]).opens == 1
    secretary = cabinet.office_secretary
    report = api.get(secretary, f"{READER}/meetings/{cabinet.meeting.pk}/reads")
    assert report.status_code == 200, report.content
    data = report.json()
    assert [d["document_id"] for d in data["documents"]] == [land["document_id"], budget["document_id"]]
    rows = {r["user_id"]: r for r in data["readers"]}
    assert secretary.pk not in rows and cabinet.chair.pk in rows
    cell = rows[reader.pk]["reads"][0]
    assert cell["opened"] and cell["max_page"] == 3 and cell["page_count"] == 4 and cell["opens"] == 1
    assert rows[reader.pk]["reads"][1]["opened"] is False
    assert all(not c["opened"] for c in rows[idle.pk]["reads"])
    # Members do not see who read what; outsiders do not even see the meeting.
    assert_problem(api.get(reader, f"{READER}/meetings/{cabinet.meeting.pk}/reads"), 403, "forbidden")
    outsider = UserFactory(role=Role.SECRETARY, organisation=GovernmentFactory())
    assert api.get(outsider, f"{READER}/meetings/{cabinet.meeting.pk}/reads").status_code == 404
    assert api.get(None, f"{READER}/meetings/{cabinet.meeting.pk}/reads").status_code == 401
    # The page for the secretary shows the same.
    page = login_client(secretary).get(f"/documents/meetings/{cabinet.meeting.pk}/reads/")
    assert page.status_code == 200
    assert f'data-user="{reader.pk}"' in page.content.decode() and 'data-max-page="3" data-page-count="4"' in page.content.decode()
    member_client = login_client(reader)
    assert member_client.get(f"/documents/meetings/{cabinet.meeting.pk}/reads/").status_code == 404
    dossier = member_client.get(f"/documents/meetings/{cabinet.meeting.pk}/dossier/")
    assert dossier.status_code == 200 and f"/documents/versions/{land['id']}/read/" in dossier.content.decode()
    assert "reads-link" not in dossier.content.decode()


# --- notify, OCR through the pipeline ------------------------------------------------------------


def test_ready_version_is_announced_to_its_meeting(api, cabinet, monkeypatch):
    sent: list[tuple[Any, ...]] = []
    from ecabinet.meetings import broadcast

    monkeypatch.setattr(
        broadcast, "publish", lambda meeting_id, kind, data, *, min_level, item_id=None: sent.append((meeting_id, kind, data, min_level, item_id))
    )
    body = upload(api, cabinet, [ts.LAND])
    assert len(sent) == 1
    meeting_id, kind, data, min_level, item_id = sent[0]
    assert (meeting_id, kind, min_level, item_id) == (cabinet.meeting.pk, ingest.LIVE_VERSION_READY, Clearance.INTERNAL, cabinet.items[0].pk)
    assert data["version_id"] == body["id"] and data["pages"] == 1
    assert AuditEntry.objects.filter(event=events.VERSION_READY, object_id=str(body["id"])).exists()


def test_scanned_pages_without_tesseract_are_flagged_not_silently_blank(api, cabinet, monkeypatch, login_client):
    monkeypatch.setattr(ingest, "ocr_engine", lambda: Tesseract(binary=None))
    body = api.upload(cabinet.office_secretary, ts.scanned_pdf(ts.LAND), "scan.pdf", title="Bản quét", item_id=cabinet.items[0].pk).json()
    assert body["state"] == "ready"
    summary = VersionText.objects.get(version_id=body["id"])
    assert summary.ocr_unavailable_pages == 1 and summary.ocr_pages == 0
    assert PageText.objects.get(version_id=body["id"], number=1).source == "ocr_unavailable"
    page = login_client(cabinet.members[0]).get(f"/documents/versions/{body['id']}/read/")
    assert 'id="ocr-unavailable"' in page.content.decode()


def test_scanned_pages_are_read_by_ocr_and_searchable(api, cabinet):
    # Tesseract with Vietnamese data comes from `make sysdeps`.
    assert ingest.ocr_engine().available(), settings.OCR_LANGUAGES
    body = api.upload(cabinet.office_secretary, ts.scanned_pdf(ts.LAND), "scan.pdf", title="Bản quét", item_id=cabinet.items[0].pk).json()
    assert VersionText.objects.get(version_id=body["id"]).ocr_pages == 1
    found = search.search(cabinet.members[0], "quan ly dat dai")
    assert [h.version_id for h in found] == [body["id"]]
