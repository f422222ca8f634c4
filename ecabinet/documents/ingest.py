"""The second half of the ingestion pipeline: extract (text, OCR, thumbnails) → index → notify.

``pipeline.extract`` and ``pipeline.index`` call ``extract_step`` and ``index_step`` with the
pipeline's context; ``pipeline._finish`` calls ``version_ready`` inside the transaction that makes
the version ready. Every step starts by removing what an earlier (interrupted) run of itself left,
so re-running a version is safe (on a version's first claim there is nothing to remove and the
extract step skips those queries).

Extraction never fails a version: a file that PDFium or the XML reader cannot read is still a
file people may read (it passed the scanner and the disarmer); its text is simply not searchable
and ``VersionText.error`` says why. Scanned pages with no OCR engine are recorded as
``ocr_unavailable``, never silently as blank.
"""

from __future__ import annotations

import io
import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ecabinet.audit.actions import record
from ecabinet.documents import blobs, events, search
from ecabinet.documents.core import anchoring, textnorm
from ecabinet.documents.core import extract as extract_core
from ecabinet.documents.core.ocr import Tesseract
from ecabinet.documents.models import Annotation, DocumentVersion, DossierEntry, PageText, PageThumbnails, StoredBlob, VersionText

log = logging.getLogger(__name__)
LIVE_VERSION_READY = "document.version_ready"


def ocr_engine() -> Tesseract:
    return Tesseract(languages=settings.OCR_LANGUAGES, timeout=float(settings.OCR_TIMEOUT))


def _clear(version: DocumentVersion) -> None:
    PageText.objects.filter(version=version).delete()
    VersionText.objects.filter(version=version).delete()
    old = PageThumbnails.objects.filter(version=version).select_related("blob").first()
    if old is not None:
        name, blob = old.blob.name, old.blob
        old.delete()
        blob.delete()
        transaction.on_commit(lambda: blobs.delete_blob_file(name))


def extract_step(ctx: Any) -> None:
    """Page texts (OCR where needed) and thumbnails of the disarmed file ``ctx.output``."""
    version: DocumentVersion = ctx.version
    result = extract_core.extract(ctx.kind, ctx.output, ocr=ocr_engine(), thumbnails=True)
    if result.error:
        log.warning("text extraction of version %s: %s", version.pk, result.error)
    thumbs_blob = None
    offsets: list[list[int]] = []
    packed = io.BytesIO()
    for thumb in result.thumbnails:
        offsets.append([packed.tell(), len(thumb.data), thumb.width, thumb.height])
        packed.write(thumb.data)
    packed.seek(0)
    try:
        # One transaction (one commit) for the thumbnails' blob row and everything extracted.
        with transaction.atomic():
            if result.thumbnails:
                thumbs_blob = blobs.write_blob(packed, purpose=StoredBlob.Purpose.SERVED)
            if version.attempts != 1:
                # An earlier, interrupted run may have left rows; on a version's first claim
                # (attempts counts claims) there can be none, and three queries are saved.
                _clear(version)
            PageText.objects.bulk_create(
                [PageText(version=version, number=p.number, text=p.text, search_text=textnorm.search_text(p.text), source=p.source) for p in result.pages],
                batch_size=500,
            )
            VersionText.objects.create(
                version=version,
                pages=result.page_count,
                text_pages=result.count(extract_core.TEXT),
                ocr_pages=result.count(extract_core.OCR),
                ocr_unavailable_pages=result.count(extract_core.OCR_UNAVAILABLE),
                ocr_failed_pages=result.count(extract_core.OCR_FAILED),
                error=result.error[:300],
            )
            if thumbs_blob is not None:
                PageThumbnails.objects.create(version=version, blob=thumbs_blob, mime_type=result.thumbnails[0].mime_type, pages=offsets)
            if version.page_count is None and ctx.kind != extract_core.PDF and result.page_count:
                version.page_count = result.page_count
                version.save(update_fields=["page_count"])
    except BaseException:
        if thumbs_blob is not None:
            blobs.delete_blob_file(thumbs_blob.name)
        raise


def index_step(ctx: Any) -> None:
    search.index_version(ctx.version.pk, version=ctx.version)


# --- when a version becomes ready ------------------------------------------------------------


def carry_annotations(version: DocumentVersion) -> dict[str, int]:
    """Move the document's annotations on older versions to ``version``: onto the same text where
    it still exists, else flagged orphaned (kept where they were, so nothing is lost)."""
    counts = {"carried": 0, "orphaned": 0}
    if version.number <= 1:
        return counts  # a first version has no older one to carry notes from
    older = Annotation.objects.filter(document_id=version.document_id, version__number__lt=version.number, orphaned=False).select_for_update()
    annotations = list(older)
    if not annotations:
        return counts
    pages = dict(PageText.objects.filter(version=version, number__gt=0).values_list("number", "text"))
    now = timezone.now()
    for note in annotations:
        if note.quote.strip():
            anchor = anchoring.locate(note.quote, pages, hint_page=note.page, prefix=note.prefix, suffix=note.suffix)
            target = anchor.page if anchor is not None else None
        else:
            # A region note with no text under it can only follow the page number.
            target = note.page if (note.page in pages or (version.page_count and note.page <= version.page_count)) else None
        if target is None:
            note.orphaned = True
            note.updated_at = now
            note.save(update_fields=["orphaned", "updated_at"])
            counts["orphaned"] += 1
            continue
        note.carried_from_id = note.version_id
        note.version = version
        if note.quote.strip():
            # The rectangles were measured on the old layout; the reader finds the quote again.
            note.rects = []
        note.page = target
        note.updated_at = now
        note.save(update_fields=["carried_from", "version", "page", "rects", "updated_at"])
        counts["carried"] += 1
    return counts


def version_ready(version: DocumentVersion) -> dict[str, Any]:
    """Inside the transaction that made ``version`` ready: carry annotations and tell the meetings
    the document belongs to (a live event per meeting, only to those cleared for the document)."""
    from ecabinet.meetings import broadcast

    counts = carry_annotations(version)
    document = version.document
    if counts["carried"] or counts["orphaned"]:
        record(events.ANNOTATIONS_CARRIED, obj=version, details={"document_id": document.pk, "number": version.number, **counts})
    entries = DossierEntry.objects.filter(document=document).values_list("meeting_id", "item_id")
    data = {"document_id": document.pk, "version_id": version.pk, "number": version.number, "title": document.title, "pages": version.page_count}

    for meeting_id, item_id in entries:
        # publish() sends after commit, robustly: a channel layer that is down loses the live
        # event (clients reload the dossier on reconnect), it never un-readies the version.
        broadcast.publish(meeting_id, LIVE_VERSION_READY, data, min_level=document.classification, item_id=item_id)
    return {"annotations": counts, "meetings": sorted({m for m, _ in entries})}
