"""Tablet pages of the documents app: a meeting's dossier, the PDF reader, search, and the
secretary's read report. The pages are shells; the data comes from the reader API."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from ecabinet.documents import permissions, reader_actions, search
from ecabinet.documents.models import Document, DocumentVersion, DossierEntry
from ecabinet.documents.reader_api import device_label, dossier_reads, open_payload
from ecabinet.documents.registry_views import registry_rows
from ecabinet.documents.upload_views import upload_targets
from ecabinet.identity.models import Clearance
from ecabinet.meetings import permissions as meeting_permissions
from ecabinet.meetings.models import Meeting
from ecabinet.web.net import client_ip
from ecabinet.web.views import mfa_login_required, signed_in_user


def _meeting(request: HttpRequest, meeting_id: int) -> Meeting:
    meeting = Meeting.objects.filter(pk=meeting_id).first()
    if meeting is None or not meeting_permissions.can_see_meeting(request.user, meeting):
        raise Http404()
    return meeting


@require_GET
@mfa_login_required
def dossier(request: HttpRequest, meeting_id: int) -> HttpResponse:
    """The meeting's documents, and its paper-only (registry) documents as rows without a file.

    Who sees what of a version that is not ready is decided in ``permissions``: a member sees only
    documents with a ready version (and a one-line note when a newer upload is being checked or was
    refused); the uploader and the secretaries see each unfinished version's state and reason.
    """
    user = signed_in_user(request)
    meeting = _meeting(request, meeting_id)
    entries = DossierEntry.objects.filter(meeting=meeting).select_related("document__owner_organisation", "item__meeting", "meeting", "frozen_version")
    rows = []
    for entry in entries:
        if not (permissions.can_see_document(user, entry.document) and permissions.entry_visible(user, entry)):
            continue
        versions = permissions.visible_versions(user, entry.document)
        current = next((v for v in versions if v.is_ready), None)
        latest = versions[0] if versions else None
        rows.append(
            {
                "entry": entry,
                "document": entry.document,
                "version": current,
                # Only for those who may see unfinished versions: the newest one, when it is not the one read.
                "unfinished": latest if latest is not None and latest != current else None,
                "newer": permissions.newer_version_status(entry.document),
                "classification": Clearance(entry.document.classification).label,
                "changed": bool(entry.frozen_version_id and current and current.pk != entry.frozen_version_id),
            }
        )
    whole_meeting, items = upload_targets(user, meeting)
    context = {
        "meeting": meeting,
        "rows": rows,
        "paper_rows": registry_rows(user, meeting),
        "can_see_reads": permissions.can_see_reads(user, meeting),
        "can_upload": whole_meeting or bool(items),
    }
    return render(request, "documents/dossier.html", context)


@require_GET
@mfa_login_required
def read_document(request: HttpRequest, document_id: int) -> HttpResponse:
    document = Document.objects.select_related("owner_organisation").filter(pk=document_id).first()
    if document is None or not permissions.can_see_document(request.user, document):
        raise Http404()
    current = document.current_version()
    if current is None:
        raise Http404()
    return redirect("documents:reader", version_id=current.pk)


@require_GET
@mfa_login_required
def reader(request: HttpRequest, version_id: int) -> HttpResponse:
    version = DocumentVersion.objects.select_related("document__owner_organisation", "stored").filter(pk=version_id).first()
    if version is None or not permissions.can_read_content(request.user, version):
        raise Http404()
    opened = reader_actions.open_version(version, acting_user=request.user, device=device_label(request), source_ip=client_ip(request))
    payload = open_payload(version, opened)
    payload.pop("ticket", None)  # handed over in a data attribute below, not in the JSON island
    return render(
        request,
        "documents/reader.html",
        {"version": version, "document": version.document, "payload": payload, "ticket": opened.ticket, "watermark": opened.watermark},
    )


SEARCH_PAGE_SIZE = 50


@require_GET
@mfa_login_required
def search_page(request: HttpRequest) -> HttpResponse:
    """Search, SEARCH_PAGE_SIZE documents a page (``?page=``); a page number that is not one
    shows the first page, one past the end shows none but still says how many there are."""
    query = request.GET.get("q", "")[: search.MAX_QUERY_CHARS]
    last_page = search.MAX_OFFSET // SEARCH_PAGE_SIZE + 1
    raw = request.GET.get("page", "1")
    number = min(int(raw), last_page) if raw.isdigit() and int(raw) >= 1 else 1
    offset = (number - 1) * SEARCH_PAGE_SIZE
    results = search.search_page(request.user, query, limit=SEARCH_PAGE_SIZE, offset=offset) if query.strip() else search.Results(0, [])
    hits = results.hits
    for hit in hits:
        pieces, last = [], 0
        for start, end in hit.highlights:
            pieces.append((hit.snippet[last:start], False))
            pieces.append((hit.snippet[start:end], True))
            last = end
        pieces.append((hit.snippet[last:], False))
        hit.pieces = pieces  # type: ignore[attr-defined]
    pages = min(max(1, -(-results.total // SEARCH_PAGE_SIZE)), last_page)
    context = {
        "query": query,
        "hits": hits,
        "total": results.total,
        "page": number,
        "pages": pages,
        "previous_page": number - 1 if number > 1 else None,
        "next_page": number + 1 if number < pages else None,
        "first_rank": offset + 1,
    }
    return render(request, "documents/search.html", context)


@require_GET
@mfa_login_required
def reads_page(request: HttpRequest, meeting_id: int) -> HttpResponse:
    meeting = _meeting(request, meeting_id)
    if not permissions.can_see_reads(request.user, meeting):
        raise Http404()
    report = dossier_reads(meeting, request.user)  # type: ignore[arg-type]  # signed in: mfa_login_required
    for row in report["readers"]:
        for cell in row["reads"]:
            cell["percent"] = round(100 * cell["max_page"] / cell["page_count"]) if cell["page_count"] else 0
    return render(request, "documents/reads.html", {"meeting": meeting, "report": report})
