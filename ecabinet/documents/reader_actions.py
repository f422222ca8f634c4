"""Changes made from the reader: opening a document, reading progress, annotations.

Opening is audited (with the device named in the watermark); every download is audited by the
download endpoint. Page-progress reports are not: they come every few seconds while someone
reads, say nothing the open did not, and would drown the audit log; they only update the
reader's own ``ReadProgress`` row. Annotation changes are audited without their text (a private
note stays private from the people who read the audit log).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ecabinet.audit.actions import record
from ecabinet.documents import errors, events, ingest, permissions
from ecabinet.documents.models import Annotation, DocumentVersion, ReadProgress

TICKET_SALT = "ecabinet.documents.reader"
TICKET_MAX_AGE = 12 * 3600
MAX_RECTS = 200
MAX_NOTE_CHARS = 10_000
MAX_QUOTE_CHARS = 5_000
COLORS = ("yellow", "green", "blue", "pink", "orange")


# --- reader tickets (view-only documents) ----------------------------------------------------


def reader_ticket(version: DocumentVersion, user: Any) -> str:
    """A signed, short-lived token the reader sends with its range requests (header
    ``X-Reader-Ticket``): it lets the reader, and only the reader, fetch a view-only file."""
    return signing.dumps({"u": user.pk, "v": version.pk}, salt=TICKET_SALT, compress=True)


def ticket_valid(ticket: str, version: DocumentVersion, user: Any) -> bool:
    try:
        data = signing.loads(ticket, salt=TICKET_SALT, max_age=TICKET_MAX_AGE)
    except signing.BadSignature:
        return False
    return isinstance(data, dict) and data.get("u") == user.pk and data.get("v") == version.pk


def check_download(version: DocumentVersion, *, acting_user: Any, ticket: str, is_range: bool, source_ip: str | None) -> None:
    """Refuse a plain download of a view-only document (audited); the reader's ranged reads pass."""
    if not permissions.is_view_only(version.document):
        return
    if is_range and ticket and ticket_valid(ticket, version, acting_user):
        return
    with transaction.atomic():
        record(
            events.DOWNLOAD_REFUSED,
            actor=acting_user,
            obj=version,
            source_ip=source_ip,
            details={"document_id": version.document_id, "number": version.number, "reason": "view_only"},
        )
    raise errors.ViewOnly("Open it in the e-Cabinet reader; confidential documents are not handed out as files.")


# --- opening and progress --------------------------------------------------------------------


@dataclass
class Opened:
    ticket: str
    watermark: dict[str, str] | None
    progress: ReadProgress


def open_version(version: DocumentVersion, *, acting_user: Any, device: str, source_ip: str | None) -> Opened:
    """The reader shows ``version`` to ``acting_user`` on ``device``: audited, counted."""
    now = timezone.now()
    with transaction.atomic():
        progress, created = ReadProgress.objects.get_or_create(
            user=acting_user,
            version=version,
            defaults={"document_id": version.document_id, "page_count": version.page_count or 0, "opens": 1, "first_opened_at": now, "last_seen_at": now},
        )
        if not created:
            ReadProgress.objects.filter(pk=progress.pk).update(opens=F("opens") + 1, last_seen_at=now)
            progress.refresh_from_db()
        record(
            events.DOCUMENT_OPENED,
            actor=acting_user,
            obj=version,
            source_ip=source_ip,
            details={"document_id": version.document_id, "number": version.number, "device": device[:120], "opens": progress.opens},
        )
    watermark = None
    if permissions.needs_watermark(version.document):
        watermark = {
            "name": str(getattr(acting_user, "display_name", "") or acting_user.username),
            "username": acting_user.username,
            "time": timezone.localtime(now).strftime("%Y-%m-%d %H:%M"),
            "device": device[:120],
        }
    return Opened(ticket=reader_ticket(version, acting_user), watermark=watermark, progress=progress)


def record_progress(version: DocumentVersion, *, acting_user: Any, pages: list[int]) -> ReadProgress:
    """Add pages the reader showed; ``max_page`` only grows. Not audited (see the module note)."""
    limit = version.page_count or 0
    valid = sorted({p for p in pages if isinstance(p, int) and 1 <= p <= max(limit, 1)})
    now = timezone.now()
    with transaction.atomic():
        progress, _ = ReadProgress.objects.select_for_update().get_or_create(
            user=acting_user,
            version=version,
            defaults={"document_id": version.document_id, "page_count": limit, "first_opened_at": now, "last_seen_at": now},
        )
        seen = sorted(set(progress.pages_seen) | set(valid))
        progress.pages_seen = seen
        progress.max_page = max([progress.max_page, *valid])
        progress.page_count = limit
        progress.last_seen_at = now
        progress.save(update_fields=["pages_seen", "max_page", "page_count", "last_seen_at"])
    return progress


# --- annotations -----------------------------------------------------------------------------


def _validate(*, page: int | None, rects: list[list[float]] | None, note: str | None, quote: str | None, color: str | None, version: DocumentVersion) -> None:
    if page is not None and (page < 1 or (version.page_count and page > version.page_count)):
        raise errors.InvalidAnnotation(f"Page {page} is not in this version ({version.page_count or 0} pages).", field="page")
    if rects is not None:
        if len(rects) > MAX_RECTS:
            raise errors.InvalidAnnotation(f"At most {MAX_RECTS} rectangles.", field="rects")
        for rect in rects:
            if len(rect) != 4 or not all(0.0 <= float(v) <= 1.0 for v in rect):
                raise errors.InvalidAnnotation("Each rectangle is [x, y, width, height] as fractions of the page (0 to 1).", field="rects")
    if note is not None and len(note) > MAX_NOTE_CHARS:
        raise errors.InvalidAnnotation(f"A note has at most {MAX_NOTE_CHARS} characters.", field="note")
    if quote is not None and len(quote) > MAX_QUOTE_CHARS:
        raise errors.InvalidAnnotation(f"A highlight covers at most {MAX_QUOTE_CHARS} characters.", field="quote")
    if color is not None and color not in COLORS:
        raise errors.InvalidAnnotation(f"Colour is one of {', '.join(COLORS)}.", field="color")


def create_annotation(
    version: DocumentVersion,
    *,
    acting_user: Any,
    page: int,
    kind: str = Annotation.Kind.HIGHLIGHT,
    rects: list[list[float]] | None = None,
    quote: str = "",
    prefix: str = "",
    suffix: str = "",
    note: str = "",
    color: str = "yellow",
    shared: bool = False,
    source_ip: str | None = None,
) -> Annotation:
    rects = rects or []
    _validate(page=page, rects=rects, note=note, quote=quote, color=color, version=version)
    if kind not in Annotation.Kind.values:
        raise errors.InvalidAnnotation("Kind is 'highlight' or 'note'.", field="kind")
    if not rects and not quote.strip():
        raise errors.InvalidAnnotation("An annotation covers some text or a region of the page.", field="rects")
    if kind == Annotation.Kind.NOTE and not note.strip():
        raise errors.InvalidAnnotation("A note needs its text.", field="note")
    with transaction.atomic():
        annotation = Annotation.objects.create(
            document_id=version.document_id,
            version=version,
            author=acting_user,
            kind=kind,
            page=page,
            rects=[[round(float(v), 5) for v in r] for r in rects],
            quote=quote.strip(),
            prefix=prefix[-100:],
            suffix=suffix[:100],
            note=note,
            color=color,
            shared=shared,
        )
        record(
            events.ANNOTATION_CREATED,
            actor=acting_user,
            obj=annotation,
            source_ip=source_ip,
            details={"document_id": version.document_id, "version_id": version.pk, "page": page, "kind": kind, "shared": shared},
        )
        # Made on an older version while a newer one became ready: follow it there at once.
        newest = DocumentVersion.objects.filter(document_id=version.document_id, state=DocumentVersion.State.READY).order_by("-number").first()
        if newest is not None and newest.number > version.number:
            ingest.carry_annotations(newest)
            annotation.refresh_from_db()
    return annotation


def update_annotation(
    annotation: Annotation,
    *,
    acting_user: Any,
    note: str | None = None,
    color: str | None = None,
    shared: bool | None = None,
    source_ip: str | None = None,
) -> Annotation:
    _validate(page=None, rects=None, note=note, quote=None, color=color, version=annotation.version)
    with transaction.atomic():
        locked = Annotation.objects.select_for_update().get(pk=annotation.pk)
        changed = []
        for name, value in (("note", note), ("color", color), ("shared", shared)):
            if value is not None and getattr(locked, name) != value:
                setattr(locked, name, value)
                changed.append(name)
        if changed:
            locked.updated_at = timezone.now()
            locked.save(update_fields=[*changed, "updated_at"])
            record(events.ANNOTATION_UPDATED, actor=acting_user, obj=locked, source_ip=source_ip, details={"changed": changed, "shared": locked.shared})
    return locked


def delete_annotation(annotation: Annotation, *, acting_user: Any, source_ip: str | None = None) -> None:
    with transaction.atomic():
        record(
            events.ANNOTATION_DELETED,
            actor=acting_user,
            obj=annotation,
            source_ip=source_ip,
            details={"document_id": annotation.document_id, "page": annotation.page, "shared": annotation.shared},
        )
        annotation.delete()
