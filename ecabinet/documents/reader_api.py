"""Reader and search API: full-text search, opening a version in the reader (ticket + watermark),
thumbnails, search inside a version, page progress, annotations, and the secretary's read report."""

from __future__ import annotations

import hashlib
from typing import Any

from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema
from ninja.responses import Status
from pydantic import Field

from ecabinet import errors as base_errors
from ecabinet.documents import blobs, permissions, reader_actions, search
from ecabinet.documents.core import crypto
from ecabinet.documents.models import Annotation, Document, DocumentVersion, DossierEntry, PageThumbnails, ReadProgress, VersionText
from ecabinet.identity.auth import api_user, session_or_token
from ecabinet.identity.models import Clearance, User, UserSession
from ecabinet.meetings import permissions as meeting_permissions
from ecabinet.meetings.models import Meeting, Participant
from ecabinet.web.net import client_ip

router = Router(auth=session_or_token, tags=["reader"])


# --- schemas ---------------------------------------------------------------------------------


class HitOut(Schema):
    document_id: int
    version_id: int
    title: str
    page: int
    snippet: str
    highlights: list[list[int]]
    score: float
    matched_pages: list[int]


class SearchOut(Schema):
    count: int  # documents matching in all, whatever limit and offset
    limit: int
    offset: int
    items: list[HitOut]


class PageMatchOut(Schema):
    page: int
    snippet: str
    highlights: list[list[int]]
    count: int


class WatermarkOut(Schema):
    name: str
    username: str
    time: str
    device: str


class ExtractionOut(Schema):
    pages: int
    text_pages: int
    ocr_pages: int
    ocr_unavailable_pages: int
    ocr_failed_pages: int
    error: str


class OpenOut(Schema):
    version_id: int
    document_id: int
    title: str
    number: int
    page_count: int | None
    size: int
    classification: str
    content_url: str
    download_url: str | None = Field(description="null when the document is view-only")
    view_only: bool
    ticket: str = Field(description="send as X-Reader-Ticket with range requests")
    watermark: WatermarkOut | None
    thumbnails: bool
    current_version_id: int | None
    extraction: ExtractionOut | None
    max_page: int


class ProgressIn(Schema):
    pages: list[int] = Field(max_length=500)


class ProgressOut(Schema):
    max_page: int
    page_count: int
    pages_seen: int


class AnnotationIn(Schema):
    page: int
    kind: str = "highlight"
    rects: list[list[float]] = Field(default_factory=list)
    quote: str = ""
    prefix: str = ""
    suffix: str = ""
    note: str = ""
    color: str = "yellow"
    shared: bool = False


class AnnotationPatch(Schema):
    note: str | None = None
    color: str | None = None
    shared: bool | None = None


class AnnotationOut(Schema):
    id: int
    document_id: int
    version_id: int
    author_id: int
    author: str
    mine: bool
    kind: str
    page: int
    rects: list[list[float]]
    quote: str
    prefix: str
    suffix: str
    note: str
    color: str
    shared: bool
    orphaned: bool
    carried_from_version_id: int | None
    created_at: Any
    updated_at: Any


class ReadCell(Schema):
    document_id: int
    opened: bool
    opens: int
    max_page: int
    page_count: int
    pages_seen: int
    last_seen_at: Any | None


class ReaderRow(Schema):
    user_id: int
    name: str
    kind: str
    reads: list[ReadCell]


class DossierDoc(Schema):
    document_id: int
    title: str
    version_id: int | None
    page_count: int | None


class ReadsOut(Schema):
    meeting_id: int
    documents: list[DossierDoc]
    readers: list[ReaderRow]


# --- helpers ---------------------------------------------------------------------------------


def _readable(request: HttpRequest, version_id: int) -> DocumentVersion:
    version = DocumentVersion.objects.select_related("document__owner_organisation", "stored").filter(pk=version_id).first()
    if version is None or not permissions.can_see_version(api_user(request), version):
        raise base_errors.NotFound()
    if not version.is_ready:
        raise base_errors.NotFound("This version is not ready to be read.")
    return version


UA_PLATFORMS = (
    ("iPad", "iPad"),
    ("iPhone", "iPhone"),
    ("Android", "Android"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)
UA_BROWSERS = (("Edg/", "Edge"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"), ("Chromium/", "Chromium"), ("Safari/", "Safari"))


def device_label(request: HttpRequest) -> str:
    """What the watermark names as the device: platform, browser, and which session or token."""
    agent = request.headers.get("User-Agent", "")
    platform = next((name for key, name in UA_PLATFORMS if key in agent), "")
    browser = next((name for key, name in UA_BROWSERS if key in agent), "")
    label = " · ".join(p for p in (platform, browser) if p) or (agent[:40] or "unknown device")
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return f"{label} · app {hashlib.sha256(auth[7:].strip().encode()).hexdigest()[:6]}"
    key = getattr(getattr(request, "session", None), "session_key", None)
    session = UserSession.objects.filter(session_key=key).values_list("pk", flat=True).first() if key else None
    return f"{label} · #{session}" if session else label


def annotation_out(annotation: Annotation, user: User) -> dict[str, Any]:
    return {
        "id": annotation.pk,
        "document_id": annotation.document_id,
        "version_id": annotation.version_id,
        "author_id": annotation.author_id,
        "author": annotation.author.display_name,
        "mine": annotation.author_id == user.pk,
        "kind": annotation.kind,
        "page": annotation.page,
        "rects": annotation.rects,
        "quote": annotation.quote,
        "prefix": annotation.prefix,
        "suffix": annotation.suffix,
        "note": annotation.note,
        "color": annotation.color,
        "shared": annotation.shared,
        "orphaned": annotation.orphaned,
        "carried_from_version_id": annotation.carried_from_id,
        "created_at": annotation.created_at,
        "updated_at": annotation.updated_at,
    }


def _annotation(request: HttpRequest, annotation_id: int) -> Annotation:
    annotation = Annotation.objects.select_related("document__owner_organisation", "author", "version").filter(pk=annotation_id).first()
    if annotation is None or not permissions.can_see_annotation(api_user(request), annotation):
        raise base_errors.NotFound()
    return annotation


# --- search ----------------------------------------------------------------------------------


@router.get("/search", response=SearchOut, summary="Full-text search of the documents the caller may see (accents optional), best first, a page at a time")
def search_documents(request: HttpRequest, q: str, limit: int = 20, offset: int = 0) -> dict[str, Any]:
    if len(q) > search.MAX_QUERY_CHARS:
        raise base_errors.InvalidInput(f"The query is longer than {search.MAX_QUERY_CHARS} characters.")
    if not 1 <= limit <= search.MAX_LIMIT:
        raise base_errors.InvalidInput(f"limit must be between 1 and {search.MAX_LIMIT}.")
    if not 0 <= offset <= search.MAX_OFFSET:
        raise base_errors.InvalidInput(f"offset must be between 0 and {search.MAX_OFFSET}.")
    results = search.search_page(api_user(request), q, limit=limit, offset=offset)
    return {"count": results.total, "limit": limit, "offset": offset, "items": [hit.as_dict() for hit in results.hits]}


# --- the reader ------------------------------------------------------------------------------


def open_payload(version: DocumentVersion, opened: reader_actions.Opened) -> dict[str, Any]:
    document = version.document
    view_only = permissions.is_view_only(document)
    summary = VersionText.objects.filter(version=version).first()
    current = document.current_version()
    content_url = f"/api/v1/documents/versions/{version.pk}/content"
    return {
        "version_id": version.pk,
        "document_id": document.pk,
        "title": document.title,
        "number": version.number,
        "page_count": version.page_count,
        "size": version.stored.plaintext_size if version.stored else version.size,
        "classification": Clearance(document.classification).key,
        "content_url": content_url,
        "download_url": None if view_only else content_url,
        "view_only": view_only,
        "ticket": opened.ticket,
        "watermark": opened.watermark,
        "thumbnails": PageThumbnails.objects.filter(version=version).exists(),
        "current_version_id": current.pk if current else None,
        "extraction": (
            {
                "pages": summary.pages,
                "text_pages": summary.text_pages,
                "ocr_pages": summary.ocr_pages,
                "ocr_unavailable_pages": summary.ocr_unavailable_pages,
                "ocr_failed_pages": summary.ocr_failed_pages,
                "error": summary.error,
            }
            if summary
            else None
        ),
        "max_page": opened.progress.max_page,
    }


@router.post("/reader/versions/{version_id}/open", response=OpenOut, summary="Open a version in the reader: audited; returns the ticket and the watermark")
def open_version(request: HttpRequest, version_id: int) -> dict[str, Any]:
    version = _readable(request, version_id)
    opened = reader_actions.open_version(version, acting_user=api_user(request), device=device_label(request), source_ip=client_ip(request))
    return open_payload(version, opened)


@router.get("/reader/versions/{version_id}/thumbnails/{page}", summary="A page thumbnail (JPEG), from the encrypted thumbnail set")
def thumbnail(request: HttpRequest, version_id: int, page: int) -> HttpResponse:
    version = _readable(request, version_id)
    thumbs = PageThumbnails.objects.select_related("blob").filter(version=version).first()
    if thumbs is None or not 1 <= page <= len(thumbs.pages):
        raise base_errors.NotFound("No thumbnail for this page.")
    offset, length, _w, _h = thumbs.pages[page - 1]
    try:
        data = b"".join(blobs.iter_range(thumbs.blob, offset, offset + length - 1))
    except crypto.CryptoError:
        raise base_errors.NotFound("The thumbnail cannot be read.") from None
    response = HttpResponse(data, content_type=thumbs.mime_type)
    response["Cache-Control"] = "private, max-age=3600"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response


@router.get("/reader/versions/{version_id}/search", response=list[PageMatchOut], summary="Pages of this version containing the words (accents optional)")
def search_version(request: HttpRequest, version_id: int, q: str) -> list[dict[str, Any]]:
    version = _readable(request, version_id)
    return search.search_in_version(version, q[:500])


@router.post("/reader/versions/{version_id}/progress", response=ProgressOut, summary="Pages the reader has shown (sent every few seconds while reading)")
def progress(request: HttpRequest, version_id: int, payload: ProgressIn) -> dict[str, Any]:
    version = _readable(request, version_id)
    row = reader_actions.record_progress(version, acting_user=api_user(request), pages=payload.pages)
    return {"max_page": row.max_page, "page_count": row.page_count, "pages_seen": len(row.pages_seen)}


# --- annotations -----------------------------------------------------------------------------


@router.get(
    "/reader/documents/{document_id}/annotations", response=list[AnnotationOut], summary="The caller's annotations and the shared ones, on every version"
)
def list_annotations(request: HttpRequest, document_id: int, version_id: int | None = None) -> list[dict[str, Any]]:
    user = api_user(request)
    document = Document.objects.select_related("owner_organisation").filter(pk=document_id).first()
    if document is None or not permissions.can_see_document(user, document):
        raise base_errors.NotFound()
    qs = Annotation.objects.filter(document=document).select_related("author").order_by("page", "created_at", "pk")
    if version_id is not None:
        qs = qs.filter(version_id=version_id)
    return [annotation_out(a, user) for a in qs.filter(Q(author=user) | Q(shared=True))]


@router.post("/reader/versions/{version_id}/annotations", response={201: AnnotationOut}, summary="Highlight or note on a page region")
def create_annotation(request: HttpRequest, version_id: int, payload: AnnotationIn) -> Status[dict[str, Any]]:
    version = _readable(request, version_id)
    user = api_user(request)
    if not permissions.can_annotate(user, version):
        raise base_errors.NotFound()
    annotation = reader_actions.create_annotation(version, acting_user=user, source_ip=client_ip(request), **payload.dict())
    return Status(201, annotation_out(annotation, user))


@router.patch("/reader/annotations/{annotation_id}", response=AnnotationOut)
def patch_annotation(request: HttpRequest, annotation_id: int, payload: AnnotationPatch) -> dict[str, Any]:
    annotation = _annotation(request, annotation_id)
    user = api_user(request)
    if not permissions.can_change_annotation(user, annotation):
        raise base_errors.Forbidden("Only its author changes an annotation.")
    updated = reader_actions.update_annotation(annotation, acting_user=user, source_ip=client_ip(request), **payload.dict(exclude_unset=True))
    return annotation_out(updated, user)


@router.delete("/reader/annotations/{annotation_id}", response={204: None})
def delete_annotation(request: HttpRequest, annotation_id: int) -> Status[None]:
    annotation = _annotation(request, annotation_id)
    user = api_user(request)
    if not permissions.can_change_annotation(user, annotation):
        raise base_errors.Forbidden("Only its author deletes an annotation.")
    reader_actions.delete_annotation(annotation, acting_user=user, source_ip=client_ip(request))
    return Status(204, None)


# --- read tracking ---------------------------------------------------------------------------


def dossier_reads(meeting: Meeting, user: User) -> dict[str, Any]:
    """For each participant, each dossier document the viewing secretary may see: opened? how far?"""
    entries = DossierEntry.objects.filter(meeting=meeting).select_related("document__owner_organisation", "item__meeting", "meeting", "frozen_version")
    documents = [e for e in entries if permissions.can_see_document(user, e.document) and permissions.entry_visible(user, e)]
    docs_out = []
    for entry in documents:
        version = entry.frozen_version or entry.document.current_version()
        docs_out.append(
            {
                "document_id": entry.document_id,
                "title": entry.document.title,
                "version_id": version.pk if version else None,
                "page_count": version.page_count if version else None,
            }
        )
    doc_ids = [e.document_id for e in documents]
    progress: dict[tuple[int, int], list[ReadProgress]] = {}
    for row in ReadProgress.objects.filter(document_id__in=doc_ids, user__meeting_participations__meeting=meeting):
        progress.setdefault((row.user_id, row.document_id), []).append(row)
    readers = []
    participants = (
        Participant.objects.filter(meeting=meeting).exclude(kind=Participant.Kind.SECRETARY).select_related("user").order_by("kind", "user__full_name")
    )
    for participant in participants:
        cells = []
        for entry in documents:
            rows = progress.get((participant.user_id, entry.document_id), [])
            best = max(rows, key=lambda r: (r.max_page / max(r.page_count, 1), r.last_seen_at), default=None)
            cells.append(
                {
                    "document_id": entry.document_id,
                    "opened": bool(rows),
                    "opens": sum(r.opens for r in rows),
                    "max_page": best.max_page if best else 0,
                    "page_count": best.page_count if best else 0,
                    "pages_seen": len(best.pages_seen) if best else 0,
                    "last_seen_at": max((r.last_seen_at for r in rows), default=None),
                }
            )
        readers.append({"user_id": participant.user_id, "name": participant.user.display_name, "kind": participant.kind, "reads": cells})
    return {"meeting_id": meeting.pk, "documents": docs_out, "readers": readers}


@router.get("/reader/meetings/{meeting_id}/reads", response=ReadsOut, summary="Who opened which dossier documents and how far they read (secretaries)")
def meeting_reads(request: HttpRequest, meeting_id: int) -> dict[str, Any]:
    user = api_user(request)
    meeting = Meeting.objects.filter(pk=meeting_id).first()
    if meeting is None or not meeting_permissions.can_see_meeting(user, meeting):
        raise base_errors.NotFound()
    if not permissions.can_see_reads(user, meeting):
        raise base_errors.Forbidden("Only the meeting's secretaries see who read what.")
    return dossier_reads(meeting, user)
