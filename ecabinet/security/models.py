"""Security alerts: what the security officer must look at (malware caught, a stored file altered,
a scanner down). Raised and acknowledged only through ``security.actions``, both audited."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ecabinet.identity.models import Organisation


class SecurityAlert(models.Model):
    class Kind(models.TextChoices):
        MALWARE = "malware", _("Malicious content caught")
        FILE_REFUSED = "file_refused", _("File refused by a content rule")
        INTEGRITY = "integrity", _("Stored file failed its integrity check")
        SCANNER_UNAVAILABLE = "scanner_unavailable", _("A configured scanner is unavailable")

    class Severity(models.TextChoices):
        INFO = "info", _("Information")
        WARNING = "warning", _("Warning")
        HIGH = "high", _("High")
        CRITICAL = "critical", _("Critical")

    # The government whose security officers see the alert; null = the whole installation.
    organisation = models.ForeignKey(Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    summary = models.CharField(max_length=500)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledgement_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.kind}: {self.summary}"
