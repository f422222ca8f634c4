"""What the pipeline takes out of a version (page texts, thumbnails) and what readers leave on it
(annotations, how far they read). Imported by ``documents.models`` so Django sees the models.

Page texts are what search indexes; annotations are anchored to the text they cover so they can
follow a document to its next version.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ecabinet.documents.models import Document, DocumentVersion, StoredBlob


class VersionText(models.Model):
    """The outcome of text extraction for one version."""

    version = models.OneToOneField(DocumentVersion, on_delete=models.CASCADE, related_name="text_summary")
    pages = models.PositiveIntegerField(default=0)
    text_pages = models.PositiveIntegerField(default=0)
    ocr_pages = models.PositiveIntegerField(default=0)
    ocr_unavailable_pages = models.PositiveIntegerField(default=0, help_text="scanned pages left unread: no OCR engine installed")
    ocr_failed_pages = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)
    extracted_at = models.DateTimeField(default=timezone.now)
    indexed_at = models.DateTimeField(null=True, blank=True)


class PageText(models.Model):
    """The text of one page. Page 0 holds the document's metadata (title, number, issuer) so a
    search by title finds documents that have no text layer at all."""

    class Source(models.TextChoices):
        TEXT = "text", _("Text layer")
        OCR = "ocr", _("OCR")
        OCR_UNAVAILABLE = "ocr_unavailable", _("OCR unavailable")
        OCR_FAILED = "ocr_failed", _("OCR failed")
        EMPTY = "empty", _("Blank page")
        METADATA = "metadata", _("Document metadata")

    version = models.ForeignKey(DocumentVersion, on_delete=models.CASCADE, related_name="page_texts")
    number = models.PositiveIntegerField()
    text = models.TextField(blank=True)
    # textnorm.search_text(text): what both search backends index (FTS5 table / GIN expression index).
    search_text = models.TextField(blank=True)
    source = models.CharField(max_length=16, choices=Source.choices)

    class Meta:
        ordering = ["version", "number"]
        constraints = [models.UniqueConstraint(fields=["version", "number"], name="unique_page_text")]


class PageThumbnails(models.Model):
    """Every page thumbnail of a version in one encrypted blob; ``pages[n-1]`` = [offset, length, width, height]."""

    version = models.OneToOneField(DocumentVersion, on_delete=models.CASCADE, related_name="thumbnails")
    blob = models.ForeignKey(StoredBlob, on_delete=models.PROTECT, related_name="+")
    mime_type = models.CharField(max_length=40, default="image/jpeg")
    pages = models.JSONField(default=list)


class Annotation(models.Model):
    """A highlight or a note on a region of a page, private to its author unless shared.

    ``quote`` is the text the region covers; when a new version of the document is ready the
    annotation moves to where that text is in the new version, or is flagged ``orphaned``.
    """

    class Kind(models.TextChoices):
        HIGHLIGHT = "highlight", _("Highlight")
        NOTE = "note", _("Note")

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="annotations")
    version = models.ForeignKey(DocumentVersion, on_delete=models.CASCADE, related_name="annotations")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="document_annotations")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.HIGHLIGHT)
    page = models.PositiveIntegerField()
    # Rectangles as fractions of the page (x, y, width, height in 0..1), valid on ``version`` only.
    rects = models.JSONField(default=list, blank=True)
    quote = models.TextField(blank=True)
    prefix = models.CharField(max_length=100, blank=True, help_text="text just before the quote, to tell repeats apart")
    suffix = models.CharField(max_length=100, blank=True)
    note = models.TextField(blank=True)
    color = models.CharField(max_length=16, default="yellow")
    shared = models.BooleanField(default=False, help_text="visible to everyone who may see the document")
    orphaned = models.BooleanField(default=False, help_text="its text is no longer in the current version")
    carried_from = models.ForeignKey(DocumentVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["page", "created_at", "pk"]
        indexes = [models.Index(fields=["document", "author"])]


class ReadProgress(models.Model):
    """How far one user read one version: pages seen, the furthest page, when."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="document_reads")
    version = models.ForeignKey(DocumentVersion, on_delete=models.CASCADE, related_name="reads")
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="reads")
    pages_seen = models.JSONField(default=list)
    max_page = models.PositiveIntegerField(default=0)
    page_count = models.PositiveIntegerField(default=0)
    opens = models.PositiveIntegerField(default=0)
    first_opened_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "version"], name="unique_read_progress")]
        indexes = [models.Index(fields=["document", "user"])]
