"""Documents, their versions, the stored (encrypted) files, dossiers, and the paper registry.

A version is never changed in content or deleted: a new file is a new version. Each version goes
through the ingestion pipeline (``documents.pipeline``) and shows its state; only a ``ready``
version is ever served. Documents classified above their government's electronic limit do not
exist here at all: they are ``RegistryRecord`` rows describing paper copies.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ecabinet.identity.models import Clearance, Organisation
from ecabinet.meetings.models import AgendaItem, Meeting


class DocumentPolicy(models.Model):
    """A government's rule: the highest classification that may be stored electronically."""

    organisation = models.OneToOneField(Organisation, on_delete=models.CASCADE, related_name="document_policy")
    max_electronic_level = models.PositiveSmallIntegerField(choices=Clearance.choices, default=Clearance.CONFIDENTIAL)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name_plural = "document policies"


class Document(models.Model):
    class Kind(models.TextChoices):
        PROPOSAL = "proposal", _("Proposal (Tờ trình)")
        DRAFT_DECREE = "draft_decree", _("Draft decree (Dự thảo Nghị định)")
        DRAFT_RESOLUTION = "draft_resolution", _("Draft resolution (Dự thảo Nghị quyết)")
        DRAFT_LAW = "draft_law", _("Draft law (Dự án Luật)")
        DRAFT_DECISION = "draft_decision", _("Draft decision (Dự thảo Quyết định)")
        REPORT = "report", _("Report (Báo cáo)")
        OFFICIAL_LETTER = "official_letter", _("Official letter (Công văn)")
        APPRAISAL = "appraisal", _("Appraisal report (Báo cáo thẩm định)")
        ANNEX = "annex", _("Annex (Phụ lục)")
        PRESENTATION = "presentation", _("Presentation")
        OTHER = "other", _("Other")

    title = models.CharField(max_length=500)
    number_symbol = models.CharField(max_length=100, blank=True, help_text="Số ký hiệu, e.g. 123/TTr-BTC")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.OTHER)
    issuing_body = models.CharField(max_length=300, blank=True)
    issued_on = models.DateField(null=True, blank=True)
    signer = models.CharField(max_length=200, blank=True)
    language = models.CharField(max_length=8, default="vi")
    classification = models.PositiveSmallIntegerField(choices=Clearance.choices, default=Clearance.INTERNAL)
    owner_organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="documents")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.title

    def current_version(self) -> DocumentVersion | None:
        """The newest version that is ready to be read."""
        return self.versions.filter(state=DocumentVersion.State.READY).order_by("-number").first()


class StoredBlob(models.Model):
    """One encrypted file in the storage backend, with its own wrapped data key."""

    class Purpose(models.TextChoices):
        ORIGINAL = "original", _("Upload as received (never served)")
        SERVED = "served", _("Disarmed file that readers get")
        QUARANTINE = "quarantine", _("Refused or infected upload (never served)")

    name = models.CharField(max_length=300, unique=True)
    purpose = models.CharField(max_length=12, choices=Purpose.choices)
    key_id = models.CharField(max_length=16, db_index=True)
    wrapped_key = models.BinaryField()
    plaintext_size = models.BigIntegerField()
    ciphertext_size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)


class DocumentVersion(models.Model):
    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SCANNING = "scanning", _("Scanning")
        DISARMING = "disarming", _("Disarming")
        EXTRACTING = "extracting", _("Extracting")
        INDEXING = "indexing", _("Indexing")
        READY = "ready", _("Ready")
        HELD = "held", _("Held (a scanner is unavailable)")
        QUARANTINED = "quarantined", _("Quarantined")
        FAILED = "failed", _("Failed")

    TERMINAL = (State.READY, State.QUARANTINED, State.FAILED)

    document = models.ForeignKey(Document, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    filename = models.CharField(max_length=255)
    change_note = models.TextField(blank=True, help_text="Why this version was made")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(default=timezone.now)
    size = models.BigIntegerField()
    original_sha256 = models.CharField(max_length=64, db_index=True)
    original = models.ForeignKey(StoredBlob, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    stored = models.ForeignKey(StoredBlob, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=12, choices=State.choices, default=State.QUEUED, db_index=True)
    state_reason = models.CharField(max_length=40, blank=True, help_text="stable code, e.g. malicious_content")
    state_message = models.TextField(blank=True, help_text="what the uploader is told")
    state_changed_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveSmallIntegerField(default=0)
    detected_type = models.CharField(max_length=10, blank=True)
    mime_type = models.CharField(max_length=120, blank=True)
    scan_findings = models.JSONField(default=list, blank=True)
    scan_engines = models.JSONField(default=dict, blank=True)
    rules_fingerprint = models.CharField(max_length=64, blank=True)
    scanned_at = models.DateTimeField(null=True, blank=True)
    disarm_removed = models.JSONField(default=list, blank=True, help_text="what disarming took out")
    page_count = models.PositiveIntegerField(null=True, blank=True)
    changed_after_publication = models.BooleanField(default=False)

    class Meta:
        ordering = ["document", "-number"]
        constraints = [models.UniqueConstraint(fields=["document", "number"], name="unique_document_version_number")]

    def __str__(self) -> str:
        return f"{self.document} v{self.number}"

    @property
    def sha256(self) -> str:
        return self.stored.sha256 if self.stored is not None else ""

    @property
    def is_ready(self) -> bool:
        return self.state == self.State.READY


class DossierEntry(models.Model):
    """A document in a meeting's dossier, under one agenda item or the meeting as a whole."""

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="dossier_entries")
    item = models.ForeignKey(AgendaItem, null=True, blank=True, on_delete=models.CASCADE, related_name="dossier_entries")
    document = models.ForeignKey(Document, on_delete=models.PROTECT, related_name="dossier_entries")
    order = models.PositiveIntegerField(default=0)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    added_at = models.DateTimeField(default=timezone.now)
    # Set when the dossier is published: the version members were given.
    frozen_version = models.ForeignKey(DocumentVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    frozen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["meeting", "item__order", "order", "pk"]
        constraints = [models.UniqueConstraint(fields=["meeting", "document"], name="unique_dossier_document")]


class RegistryRecord(models.Model):
    """A document above the electronic limit: only this description exists, the text stays on paper."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="registry_records")
    number_symbol = models.CharField(max_length=100)
    title = models.CharField(max_length=500)
    classification = models.PositiveSmallIntegerField(choices=Clearance.choices)
    custodian = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="custody_records")
    copies_total = models.PositiveIntegerField(default=1)
    meeting = models.ForeignKey(Meeting, null=True, blank=True, on_delete=models.SET_NULL, related_name="registry_records")
    item = models.ForeignKey(AgendaItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="registry_records")
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True, help_text="withdrawn from the registry (destroyed or archived)")

    class Meta:
        ordering = ["-created_at", "-pk"]

    def copies_out(self) -> dict[int, CopyMovement]:
        """Copy number -> the hand-out not yet matched by a return."""
        out: dict[int, CopyMovement] = {}
        for move in self.movements.order_by("at", "pk"):
            if move.kind == CopyMovement.Kind.HANDED_OUT:
                out[move.copy_number] = move
            else:
                out.pop(move.copy_number, None)
        return out


class CopyMovement(models.Model):
    class Kind(models.TextChoices):
        HANDED_OUT = "handed_out", _("Handed out")
        RETURNED = "returned", _("Returned")

    record = models.ForeignKey(RegistryRecord, on_delete=models.CASCADE, related_name="movements")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    copy_number = models.PositiveIntegerField()
    holder = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["at", "pk"]


# Page texts, thumbnails, annotations and read tracking live in their own module; imported here
# so Django registers them with this app.
from ecabinet.documents.reader_models import Annotation, PageText, PageThumbnails, ReadProgress, VersionText  # noqa: E402, F401
