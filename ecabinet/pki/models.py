"""The installation's authorities, member enrolment requests, member certificates and published CRLs."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Authority(models.Model):
    """A certificate the installation trusts or operates: its own root, issuing CA and TSA, or an
    imported government chain (then ``key_path`` is empty: the installation does not sign with it)."""

    class Kind(models.TextChoices):
        ROOT = "root", _("Root CA")
        ISSUING = "issuing", _("Issuing CA")
        TSA = "tsa", _("Time-stamping authority")
        IMPORTED_ANCHOR = "imported_anchor", _("Imported trust anchor")
        IMPORTED_INTERMEDIATE = "imported_intermediate", _("Imported intermediate CA")

    kind = models.CharField(max_length=30, choices=Kind.choices)
    subject = models.CharField(max_length=500)
    certificate_pem = models.TextField()
    fingerprint = models.CharField(max_length=64, unique=True)
    serial = models.CharField(max_length=64)
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    # Where the private key lives: a file under KEY_DIR (encrypted PKCS#8) or, later, a pkcs11: URI.
    key_ref = models.CharField(max_length=500, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.subject}"


class RevocationList(models.Model):
    """A CRL: signed here by an authority we operate, or imported with a government chain."""

    issuer = models.ForeignKey(Authority, on_delete=models.PROTECT, related_name="crls")
    number = models.PositiveBigIntegerField()
    this_update = models.DateTimeField()
    next_update = models.DateTimeField(null=True, blank=True)
    der = models.BinaryField()
    imported = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-this_update", "-number"]
        constraints = [models.UniqueConstraint(fields=["issuer", "number"], name="unique_crl_number")]


class EnrolmentRequest(models.Model):
    """A device's CSR waiting for a secretary or administrator of the same government."""

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    class Source(models.TextChoices):
        BROWSER = "browser", _("Tablet browser")
        CLIENT = "client", _("ecabinet-sign")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pki_requests")
    device_label = models.CharField(max_length=120)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.BROWSER)
    csr_pem = models.TextField()
    spki_sha256 = models.CharField(max_length=64)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    rejection_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # One key, one live request: a second submission of the same public key is a conflict.
            models.UniqueConstraint(fields=["spki_sha256"], condition=models.Q(state="pending"), name="unique_pending_key"),
        ]


class MemberCertificate(models.Model):
    """One member device's signing certificate. Several per member: one per device."""

    class Reason(models.TextChoices):
        UNSPECIFIED = "unspecified", _("Unspecified")
        KEY_COMPROMISE = "key_compromise", _("Device lost or key compromised")
        AFFILIATION_CHANGED = "affiliation_changed", _("Left office")
        SUPERSEDED = "superseded", _("Replaced by a new certificate")
        CESSATION_OF_OPERATION = "cessation_of_operation", _("Device retired")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="certificates")
    issuer = models.ForeignKey(Authority, on_delete=models.PROTECT, related_name="issued")
    request = models.OneToOneField(EnrolmentRequest, null=True, blank=True, on_delete=models.SET_NULL, related_name="certificate")
    device_label = models.CharField(max_length=120)
    certificate_pem = models.TextField()
    serial = models.CharField(max_length=64)  # hex, as in the CRL
    fingerprint = models.CharField(max_length=64, unique=True)  # SHA-256 of the DER certificate
    spki_sha256 = models.CharField(max_length=64, db_index=True)
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    imported = models.BooleanField(default=False)
    issued_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revocation_reason = models.CharField(max_length=30, choices=Reason.choices, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-issued_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["issuer", "serial"], name="unique_issuer_serial")]

    def __str__(self) -> str:
        return f"{self.device_label} ({self.fingerprint[:16]})"

    def state_at(self, moment: object = None) -> str:
        now = moment or timezone.now()
        if self.revoked_at is not None and self.revoked_at <= now:  # type: ignore[operator]
            return "revoked"
        if now > self.not_after:  # type: ignore[operator]
            return "expired"
        return "valid"

    @property
    def state(self) -> str:
        return self.state_at()
