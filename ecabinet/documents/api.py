"""Documents API: upload (multipart), list and detail of visible documents, versions, download
with Range and ETag, dossier links, the electronic-limit policy and the paper registry."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from typing import Any, BinaryIO, cast
from urllib.parse import quote

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from ninja import File, Form, Router
from ninja.files import UploadedFile
from ninja.responses import Status

from ecabinet import errors as base_errors
from ecabinet.documents import actions, blobs, errors, permissions, reader_actions
from ecabinet.documents.models import CopyMovement, Document, DocumentVersion, DossierEntry, RegistryRecord
from ecabinet.documents.schemas import (
    DocumentDetailOut,
    DocumentIn,
    DocumentOut,
    DossierEntryOut,
    LinkIn,
    MovementIn,
    MovementOut,
    PolicyIn,
    PolicyOut,
    RegistryIn,
    RegistryOut,
    RegistryPatch,
    VersionIn,
    VersionOut,
)
from ecabinet.identity.auth import api_user, session_or_token
from ecabinet.identity.models import Clearance, Organisation, User
from ecabinet.meetings import permissions as meeting_permissions
from ecabinet.meetings.models import AgendaItem, Meeting
from ecabinet.web.net import client_ip

router = Router(auth=session_or_token, tags=["documents"])
RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")


# --- serialisation ---------------------------------------------------------------------------


def version_out(version: DocumentVersion) -> dict[str, Any]:
    return {
        "id": version.pk,
        "document_id": version.document_id,
        "number": version.number,
        "filename": version.filename,
        "change_note": version.change_note,
        "uploaded_by": str(version.uploaded_by),
        "uploaded_at": version.uploaded_at,
        "size": version.stored.plaintext_size if version.stored else version.size,
        "state": version.state,
        "state_reason": version.state_reason,
        "state_message": version.state_message,
        "detected_type": version.detected_type,
        "mime_type": version.mime_type,
        "sha256": version.sha256,
        "page_count": version.page_count,
        "disarm_removed": version.disarm_removed,
        "findings": version.scan_findings,
        "changed_after_publication": version.changed_after_publication,
        "content_url": f"/api/v1/documents/versions/{version.pk}/content" if version.is_ready else None,
    }


def document_out(document: Document, user: User, *, with_versions: bool = False) -> dict[str, Any]:
    # Only the versions this caller may see: members get ready ones only (``permissions``).
    versions = permissions.visible_versions(user, document)
    current = next((v for v in versions if v.is_ready), None)
    body = {
        "id": document.pk,
        "title": document.title,
        "number_symbol": document.number_symbol,
        "kind": document.kind,
        "issuing_body": document.issuing_body,
        "issued_on": document.issued_on,
        "signer": document.signer,
        "language": document.language,
        "classification": Clearance(document.classification).key,
        "owner_organisation_id": document.owner_organisation_id,
        "created_at": document.created_at,
        "current_version": version_out(current) if current else None,
        "latest_version": version_out(versions[0]) if versions else None,
        "newer_version_status": permissions.newer_version_status(document),
    }
    if with_versions:
        body["versions"] = [version_out(v) for v in versions]
    return body


def _document(request: HttpRequest, document_id: int) -> Document:
    document = Document.objects.select_related("owner_organisation").filter(pk=document_id).first()
    if document is None or not permissions.can_see_document(api_user(request), document):
        raise base_errors.NotFound()
    return document


def _version(request: HttpRequest, version_id: int) -> DocumentVersion:
    version = DocumentVersion.objects.select_related("document__owner_organisation", "stored", "uploaded_by").filter(pk=version_id).first()
    if version is None or not permissions.can_see_version(api_user(request), version):
        raise base_errors.NotFound()
    return version


def _meeting_and_item(user: User, meeting_id: int | None, item_id: int | None) -> tuple[Meeting | None, AgendaItem | None]:
    meeting = item = None
    if item_id is not None:
        item = AgendaItem.objects.select_related("meeting").filter(pk=item_id).first()
        if item is None or not meeting_permissions.can_see_item(user, item):
            raise base_errors.NotFound("No such agenda item.")
        meeting = item.meeting
        if meeting_id is not None and meeting_id != meeting.pk:
            raise base_errors.InvalidInput("The agenda item belongs to another meeting.")
    elif meeting_id is not None:
        meeting = Meeting.objects.filter(pk=meeting_id).first()
        if meeting is None or not meeting_permissions.can_see_meeting(user, meeting):
            raise base_errors.NotFound("No such meeting.")
    return meeting, item


# --- documents and versions ------------------------------------------------------------------


@router.get("/documents", response=list[DocumentOut], summary="Documents the caller may see (optionally of one meeting or item)")
def list_documents(request: HttpRequest, meeting_id: int | None = None, item_id: int | None = None) -> list[dict[str, Any]]:
    user = api_user(request)
    meeting, item = _meeting_and_item(user, meeting_id, item_id)
    return [document_out(d, user) for d in permissions.visible_documents(user, meeting=meeting, item=item)]


@router.post("/documents", response={201: VersionOut}, summary="Upload a new document (multipart: file + metadata fields)")
def upload_document(request: HttpRequest, file: File[UploadedFile], payload: Form[DocumentIn]) -> Status[dict[str, Any]]:
    user = api_user(request)
    owner: Organisation | None = user.organisation
    if payload.owner_organisation_id is not None:
        owner = Organisation.objects.filter(pk=payload.owner_organisation_id).first()
    if owner is None or not permissions.same_government(user, owner):
        raise base_errors.NotFound("No such organisation.")
    if not permissions.can_create_document(user, owner):
        raise base_errors.Forbidden("Only secretaries put documents in e-Cabinet.")
    meeting, item = _meeting_and_item(user, payload.meeting_id, payload.item_id)
    level = Clearance.from_name(payload.classification)
    if user.clearance < level:
        raise base_errors.Forbidden("You cannot upload a document classified above your own clearance.")
    if meeting is not None and not meeting_permissions.can_manage_meeting(user, meeting) and not (item and meeting_permissions.can_edit_item(user, item)):
        raise base_errors.Forbidden("You may not add documents to this meeting's dossier.")
    version = actions.create_document(
        acting_user=user,
        stream=cast(BinaryIO, file.file),
        filename=file.name or "",
        title=payload.title,
        owner_organisation=owner,
        kind=payload.kind,
        number_symbol=payload.number_symbol,
        issuing_body=payload.issuing_body,
        issued_on=payload.issued_on,
        signer=payload.signer,
        language=payload.language,
        classification=level,
        meeting=meeting,
        item=item,
        source_ip=client_ip(request),
    )
    version.refresh_from_db()
    return Status(201, version_out(version))


@router.get("/documents/versions/{version_id}", response=VersionOut, summary="One version: its state, and why if it was refused")
def get_version(request: HttpRequest, version_id: int) -> dict[str, Any]:
    return version_out(_version(request, version_id))


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """(start, end) inclusive for one satisfiable range, None to serve everything; raises 416."""
    match = RANGE_RE.match(header.strip())
    if not match or (not match.group(1) and not match.group(2)):
        return None  # several ranges or a syntax we do not do: the whole file is a valid answer
    first, last = match.group(1), match.group(2)
    if first:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
        if start >= size or (last and int(last) < start):
            raise errors.RangeNotSatisfiable(f"The file has {size} bytes.", size=size)
    else:
        length = int(last)
        if length == 0:
            raise errors.RangeNotSatisfiable(f"The file has {size} bytes.", size=size)
        start, end = max(size - length, 0), size - 1
    return start, end


def _content_headers(response: HttpResponseBase, version: DocumentVersion, etag: str) -> None:
    response["ETag"] = etag
    response["Accept-Ranges"] = "bytes"
    response["Content-Disposition"] = f"inline; filename*=UTF-8''{quote(version.filename)}"
    # Served files never run anything, even if opened straight in a browser tab.
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cache-Control"] = "private, no-store" if version.document.classification >= Clearance.CONFIDENTIAL else "private, no-cache"


@router.api_operation(["GET", "HEAD"], "/documents/versions/{version_id}/content", summary="The file (decrypted, checked); Range and ETag supported")
def download(request: HttpRequest, version_id: int) -> HttpResponseBase:
    user = api_user(request)
    version = _version(request, version_id)
    blob = actions.served_blob(version)
    size = blob.plaintext_size
    etag = f'"{blob.sha256}"'
    if request.headers.get("If-None-Match", "").strip() in (etag, f"W/{etag}"):
        response: HttpResponseBase = HttpResponse(status=304)
        response["ETag"] = etag
        return response
    byte_range = None
    range_header = request.headers.get("Range", "")
    if range_header and request.headers.get("If-Range", etag).strip() == etag:
        try:
            byte_range = _parse_range(range_header, size)
        except errors.RangeNotSatisfiable:
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            return response
    ip = client_ip(request)
    # View-only (confidential and up): only the reader's ranged reads, with its ticket.
    reader_actions.check_download(version, acting_user=user, ticket=request.headers.get("X-Reader-Ticket", ""), is_range=byte_range is not None, source_ip=ip)
    if request.method == "HEAD":
        actions.check_integrity(version, full=False, acting_user=user, source_ip=ip)
        response = HttpResponse(status=200, content_type=version.mime_type)
        response["Content-Length"] = str(size)
        _content_headers(response, version, etag)
        return response
    if byte_range is not None:
        start, end = byte_range
        actions.check_integrity(version, full=False, acting_user=user, source_ip=ip)
        if start == 0:
            # A reader fetches many ranges; the one holding the first byte is the "open".
            actions.record_read(version, acting_user=user, source_ip=ip, byte_range=f"{start}-{end}")
        response = StreamingHttpResponse(blobs.iter_range(blob, start, end), status=206, content_type=version.mime_type)
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
        response["Content-Length"] = str(end - start + 1)
    else:
        try:
            handle, folder = blobs.open_verified_copy(blob)
        except Exception as exc:
            from ecabinet.documents.core import crypto

            if isinstance(exc, crypto.IntegrityError):
                actions.report_integrity_failure(version, blob, exc, acting_user=user, source_ip=ip)
                raise errors.IntegrityFailed("The stored file was altered or damaged; it will not be served. The security officer has been alerted.") from None
            if isinstance(exc, crypto.CryptoError):
                raise errors.KeyUnavailable(str(exc)) from None
            raise
        actions.record_read(version, acting_user=user, source_ip=ip)

        def stream() -> Iterator[bytes]:
            try:
                while chunk := handle.read(blobs.COPY_CHUNK):
                    yield chunk
            finally:
                handle.close()
                shutil.rmtree(folder, ignore_errors=True)

        response = StreamingHttpResponse(stream(), status=200, content_type=version.mime_type)
        response["Content-Length"] = str(size)
    _content_headers(response, version, etag)
    return response


@router.get("/documents/{document_id}", response=DocumentDetailOut)
def get_document(request: HttpRequest, document_id: int) -> dict[str, Any]:
    return document_out(_document(request, document_id), api_user(request), with_versions=True)


@router.get("/documents/{document_id}/versions", response=list[VersionOut])
def list_versions(request: HttpRequest, document_id: int) -> list[dict[str, Any]]:
    document = _document(request, document_id)
    return [version_out(v) for v in permissions.visible_versions(api_user(request), document)]


@router.post("/documents/{document_id}/versions", response={201: VersionOut}, summary="Upload a new version (multipart: file + change_note)")
def upload_version(request: HttpRequest, document_id: int, file: File[UploadedFile], payload: Form[VersionIn]) -> Status[dict[str, Any]]:
    user = api_user(request)
    document = _document(request, document_id)
    if not permissions.can_add_version(user, document):
        raise base_errors.Forbidden("Only the document's secretaries may add versions.")
    version = actions.add_version(
        document, acting_user=user, stream=cast(BinaryIO, file.file), filename=file.name or "", change_note=payload.change_note, source_ip=client_ip(request)
    )
    version.refresh_from_db()
    return Status(201, version_out(version))


# --- dossiers --------------------------------------------------------------------------------


def entry_out(entry: DossierEntry) -> dict[str, Any]:
    current = entry.document.current_version()
    return {
        "id": entry.pk,
        "meeting_id": entry.meeting_id,
        "item_id": entry.item_id,
        "document_id": entry.document_id,
        "title": entry.document.title,
        "order": entry.order,
        "frozen_version_id": entry.frozen_version_id,
        "current_version_id": current.pk if current else None,
        "changed_after_publication": bool(entry.frozen_version_id and current and current.pk != entry.frozen_version_id),
        "newer_version_status": permissions.newer_version_status(entry.document),
    }


@router.post("/documents/{document_id}/dossier", response={201: DossierEntryOut}, summary="Put the document in a meeting's dossier")
def link(request: HttpRequest, document_id: int, payload: LinkIn) -> Status[dict[str, Any]]:
    user = api_user(request)
    document = _document(request, document_id)
    meeting, item = _meeting_and_item(user, payload.meeting_id, payload.item_id)
    assert meeting is not None
    if not permissions.can_link(user, document, meeting, item):
        raise base_errors.Forbidden("You may not change this meeting's dossier.")
    entry = actions.link_document(document, meeting=meeting, item=item, order=payload.order, acting_user=user, source_ip=client_ip(request))
    return Status(201, entry_out(entry))


@router.get("/dossiers/{meeting_id}", response=list[DossierEntryOut], summary="The meeting's dossier: its documents in order")
def dossier(request: HttpRequest, meeting_id: int) -> list[dict[str, Any]]:
    user = api_user(request)
    meeting, _ = _meeting_and_item(user, meeting_id, None)
    entries = DossierEntry.objects.filter(meeting=meeting).select_related("document__owner_organisation", "item__meeting", "meeting")
    return [entry_out(e) for e in entries if permissions.can_see_document(user, e.document) and permissions.entry_visible(user, e)]


# --- policy ----------------------------------------------------------------------------------


@router.get("/documents-policy", response=PolicyOut, summary="The highest classification stored electronically")
def get_policy(request: HttpRequest) -> dict[str, Any]:
    user = api_user(request)
    if user.organisation is None:
        raise base_errors.NotFound()
    gov = user.organisation.government
    return {"organisation_id": gov.pk, "max_electronic_level": Clearance(actions.electronic_limit(gov)).key}


@router.put("/documents-policy", response=PolicyOut)
def put_policy(request: HttpRequest, payload: PolicyIn) -> dict[str, Any]:
    user = api_user(request)
    if user.organisation is None or not permissions.can_set_policy(user, user.organisation.government):
        raise base_errors.Forbidden("Only an administrator sets the electronic limit.")
    gov = user.organisation.government
    policy = actions.set_policy(gov, max_electronic_level=Clearance.from_name(payload.max_electronic_level), acting_user=user, source_ip=client_ip(request))
    return {"organisation_id": gov.pk, "max_electronic_level": Clearance(policy.max_electronic_level).key}


# --- paper registry --------------------------------------------------------------------------


def record_out(rec: RegistryRecord) -> dict[str, Any]:
    return {
        "id": rec.pk,
        "organisation_id": rec.organisation_id,
        "number_symbol": rec.number_symbol,
        "title": rec.title,
        "classification": Clearance(rec.classification).key,
        "custodian_id": rec.custodian_id,
        "copies_total": rec.copies_total,
        "copies_out": sorted(rec.copies_out()),
        "meeting_id": rec.meeting_id,
        "item_id": rec.item_id,
        "notes": rec.notes,
        "created_at": rec.created_at,
        "closed_at": rec.closed_at,
        "movements": [
            {"id": m.pk, "kind": m.kind, "copy_number": m.copy_number, "holder_id": m.holder_id, "at": m.at, "recorded_by_id": m.recorded_by_id, "note": m.note}
            for m in rec.movements.all()
        ],
    }


def _record(request: HttpRequest, record_id: int) -> RegistryRecord:
    rec = RegistryRecord.objects.select_related("organisation").filter(pk=record_id).first()
    if rec is None or not permissions.can_see_record(api_user(request), rec):
        raise base_errors.NotFound()
    return rec


def _colleague(user: User, user_id: int) -> User:
    other = User.objects.select_related("organisation").filter(pk=user_id, is_active=True).first()
    if other is None or other.organisation is None or not permissions.same_government(user, other.organisation):
        raise base_errors.NotFound("No such user.")
    return other


def _keeper(request: HttpRequest, rec: RegistryRecord) -> User:
    user = api_user(request)
    if not permissions.can_keep_registry(user, rec.organisation, rec.classification):
        raise base_errors.Forbidden("Only a secretary cleared for this level keeps the registry.")
    return user


@router.get("/registry", response=list[RegistryOut], summary="Paper-only (secret) documents the caller may see")
def list_records(request: HttpRequest) -> list[dict[str, Any]]:
    return [record_out(r) for r in permissions.visible_records(api_user(request))]


@router.post("/registry", response={201: RegistryOut}, summary="Register a paper-only document")
def create_record(request: HttpRequest, payload: RegistryIn) -> Status[dict[str, Any]]:
    user = api_user(request)
    org = user.organisation
    if payload.organisation_id is not None:
        org = Organisation.objects.filter(pk=payload.organisation_id).first()
    if org is None or not permissions.same_government(user, org):
        raise base_errors.NotFound("No such organisation.")
    level = Clearance.from_name(payload.classification)
    if not permissions.can_keep_registry(user, org, level):
        raise base_errors.Forbidden("Only a secretary cleared for this level keeps the registry.")
    meeting, item = _meeting_and_item(user, payload.meeting_id, payload.item_id)
    rec = actions.create_registry_record(
        acting_user=user,
        organisation=org,
        number_symbol=payload.number_symbol,
        title=payload.title,
        classification=level,
        custodian=_colleague(user, payload.custodian_id),
        copies_total=payload.copies_total,
        meeting=meeting,
        item=item,
        notes=payload.notes,
        source_ip=client_ip(request),
    )
    return Status(201, record_out(rec))


@router.get("/registry/{record_id}", response=RegistryOut)
def get_record(request: HttpRequest, record_id: int) -> dict[str, Any]:
    return record_out(_record(request, record_id))


@router.patch("/registry/{record_id}", response=RegistryOut)
def patch_record(request: HttpRequest, record_id: int, payload: RegistryPatch) -> dict[str, Any]:
    rec = _record(request, record_id)
    user = _keeper(request, rec)
    changes: dict[str, Any] = {k: v for k, v in payload.dict(exclude_unset=True).items() if v is not None}
    if "custodian_id" in changes:
        changes["custodian"] = _colleague(user, changes.pop("custodian_id"))
    return record_out(actions.update_registry_record(rec, acting_user=user, changes=changes, source_ip=client_ip(request)))


@router.delete("/registry/{record_id}", response=RegistryOut, summary="Close the record (the paper was archived or destroyed)")
def close_record(request: HttpRequest, record_id: int) -> dict[str, Any]:
    rec = _record(request, record_id)
    user = _keeper(request, rec)
    return record_out(actions.close_registry_record(rec, acting_user=user, source_ip=client_ip(request)))


@router.post("/registry/{record_id}/movements", response={201: MovementOut}, summary="A paper copy handed out or returned")
def add_movement(request: HttpRequest, record_id: int, payload: MovementIn) -> Status[CopyMovement]:
    rec = _record(request, record_id)
    user = _keeper(request, rec)
    holder = _colleague(user, payload.holder_id)
    move = actions.record_copy_movement(
        rec, kind=payload.kind, copy_number=payload.copy_number, holder=holder, acting_user=user, note=payload.note, source_ip=client_ip(request)
    )
    return Status(201, move)
