"""Roll-call polls, their eligible voters, signed ballots, and signed decision PDFs.

Every ballot row holds the exact bytes the member's device signed and the signature, so evidence
can be exported at any time and checked without this server. Ballots are never deleted or edited;
a member who changes their vote adds a ballot, and the earlier one stops counting.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ecabinet.identity.models import Clearance, Organisation


class Poll(models.Model):
    class Kind(models.TextChoices):
        ITEM = "item", _("Vote on an agenda item")
        CONSULTATION = "consultation", _("Written consultation")

    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed")

    class Rule(models.TextChoices):
        SIMPLE = "simple", _("Simple majority of votes cast")
        ABSOLUTE = "absolute", _("Absolute majority of members")
        TWO_THIRDS = "two_thirds", _("Two thirds of votes cast")

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="polls")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    meeting = models.ForeignKey("meetings.Meeting", null=True, blank=True, on_delete=models.PROTECT, related_name="polls")
    item = models.ForeignKey("meetings.AgendaItem", null=True, blank=True, on_delete=models.PROTECT, related_name="polls")
    question = models.TextField()
    description = models.TextField(blank=True)
    options = models.JSONField(help_text="[{key, label}], fixed at creation")
    rule = models.CharField(max_length=12, choices=Rule.choices, default=Rule.SIMPLE)
    quorum_numerator = models.PositiveSmallIntegerField(default=1)
    quorum_denominator = models.PositiveSmallIntegerField(default=2)
    allow_change = models.BooleanField(default=False, help_text="a member may sign a new ballot until closing; the last one counts")
    results_public = models.BooleanField(default=False, help_text="live results to every participant, not only the chair")
    classification = models.PositiveSmallIntegerField(choices=Clearance.choices, default=Clearance.INTERNAL)
    deadline = models.DateTimeField(null=True, blank=True, help_text="closes by itself at this time")
    state = models.CharField(max_length=8, choices=State.choices, default=State.DRAFT, db_index=True)
    statement = models.JSONField(help_text="what the voters are asked; its hash is in every ballot")
    statement_sha256 = models.CharField(max_length=64)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    closed_at = models.DateTimeField(null=True, blank=True)
    # The result as signed at closing: the exact canonical bytes and the installation's Ed25519 signature.
    result = models.JSONField(null=True, blank=True)
    result_bytes = models.BinaryField(null=True, blank=True)
    result_signature = models.BinaryField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="item", item__isnull=False, meeting__isnull=False) | Q(kind="consultation", item__isnull=True, meeting__isnull=True)),
                name="poll_kind_matches_item",
            ),
            models.CheckConstraint(condition=Q(kind="item") | Q(deadline__isnull=False), name="consultation_has_deadline"),
        ]

    def __str__(self) -> str:
        return self.question[:80]

    @property
    def quorum(self) -> tuple[int, int]:
        return (self.quorum_numerator, self.quorum_denominator)

    @property
    def option_keys(self) -> list[str]:
        return [o["key"] for o in self.options]


class PollVoter(models.Model):
    poll = models.ForeignKey(Poll, on_delete=models.CASCADE, related_name="voters")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["poll", "user"], name="unique_poll_voter")]


class Ballot(models.Model):
    poll = models.ForeignKey(Poll, on_delete=models.PROTECT, related_name="ballots")
    voter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="ballots")
    certificate = models.ForeignKey("pki.MemberCertificate", on_delete=models.PROTECT, related_name="ballots")
    data = models.BinaryField(help_text="the exact canonical JSON the device signed")
    signature = models.BinaryField(help_text="DER ECDSA P-256/SHA-256 over data")
    sha256 = models.CharField(max_length=64, unique=True)
    nonce = models.CharField(max_length=64, unique=True)  # a replay is refused by the database itself
    choice = models.CharField(max_length=64)
    client_time = models.CharField(max_length=40)
    received_at = models.DateTimeField()
    audit_seq = models.BigIntegerField(unique=True)
    counted = models.BooleanField(default=True)

    class Meta:
        ordering = ["audit_seq"]
        constraints = [models.UniqueConstraint(fields=["poll", "voter"], condition=Q(counted=True), name="one_counted_ballot_per_voter")]


class OfficeSeal(models.Model):
    """The government office's signing key for decisions and minutes, kept encrypted in KEY_DIR."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    certificate = models.OneToOneField("pki.MemberCertificate", on_delete=models.PROTECT, related_name="+")
    key_file = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-created_at", "-pk"]


class SignedDocument(models.Model):
    """A PAdES B-LT signed PDF of a decision or of approved minutes."""

    class Kind(models.TextChoices):
        MINUTES = "minutes", _("Approved minutes")
        DECISION = "decision", _("Decision")

    kind = models.CharField(max_length=10, choices=Kind.choices)
    meeting = models.ForeignKey("meetings.Meeting", on_delete=models.PROTECT, related_name="signed_documents")
    decision = models.ForeignKey("meetings.Decision", null=True, blank=True, on_delete=models.PROTECT, related_name="signed_documents")
    poll = models.ForeignKey(Poll, null=True, blank=True, on_delete=models.PROTECT, related_name="signed_documents")
    storage_name = models.CharField(max_length=300)
    sha256 = models.CharField(max_length=64)
    source_sha256 = models.CharField(max_length=64, help_text="the unsigned PDF")
    certificate = models.ForeignKey("pki.MemberCertificate", on_delete=models.PROTECT, related_name="+")
    signed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-signed_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["meeting"], condition=Q(kind="minutes"), name="one_signed_minutes"),
            models.UniqueConstraint(fields=["decision"], condition=Q(kind="decision"), name="one_signed_decision"),
        ]
