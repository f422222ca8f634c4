"""Organisations, users with a role and a clearance, sessions, devices, API tokens, login throttles."""

from __future__ import annotations

from typing import ClassVar, Self

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    CHAIR = "chair", _("Chair")
    MEMBER = "member", _("Member")
    SECRETARY = "secretary", _("Secretary")
    GUEST = "guest", _("Guest")
    SECURITY_OFFICER = "security_officer", _("Security officer")
    ADMIN = "admin", _("Administrator")


class Clearance(models.IntegerChoices):
    """Clearance and classification levels, lowest first; comparisons use the integer value."""

    PUBLIC = 0, _("Public")
    INTERNAL = 10, _("Internal")
    CONFIDENTIAL = 20, _("Confidential (Mật)")
    SECRET = 30, _("Secret (Tối mật)")
    TOP_SECRET = 40, _("Top secret (Tuyệt mật)")

    @classmethod
    def from_name(cls, name: str) -> Clearance:
        try:
            return cls[name.upper()]
        except KeyError:
            raise ValueError(f"unknown level {name!r}; expected one of {', '.join(c.name.lower() for c in cls)}") from None

    @property
    def key(self) -> str:
        return self.name.lower()


class Organisation(models.Model):
    class Kind(models.TextChoices):
        GOVERNMENT = "government", _("Government")
        MINISTRY = "ministry", _("Ministry")
        AGENCY = "agency", _("Agency")
        OFFICE = "office", _("Government office")

    name = models.CharField(max_length=200)
    short_name = models.CharField(max_length=40, blank=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def government(self) -> Organisation:
        """The government this organisation belongs to (itself if it is one)."""
        org = self
        while org.parent_id is not None and org.kind != self.Kind.GOVERNMENT:
            org = org.parent  # type: ignore[assignment]
        return org


class User(AbstractUser):
    organisation = models.ForeignKey(Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="users")
    full_name = models.CharField(max_length=200, blank=True)
    title = models.CharField(max_length=200, blank=True, help_text="Office held, e.g. Minister of Finance")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    clearance = models.PositiveSmallIntegerField(choices=Clearance.choices, default=Clearance.INTERNAL)
    language = models.CharField(max_length=8, default="vi")
    totp_secret = models.TextField(blank=True, help_text="Encrypted; see identity.core.secretbox")
    totp_confirmed_at = models.DateTimeField(null=True, blank=True)
    totp_last_step = models.BigIntegerField(default=0)

    objects: ClassVar[UserManager[Self]] = UserManager()

    def __str__(self) -> str:
        return self.full_name or self.username

    @property
    def display_name(self) -> str:
        return self.full_name or self.username

    @property
    def mfa_required(self) -> bool:
        return self.role != Role.GUEST

    @property
    def mfa_enrolled(self) -> bool:
        return self.totp_confirmed_at is not None


class Device(models.Model):
    """A browser session's device or a registered native app; API tokens belong to a device."""

    class Kind(models.TextChoices):
        BROWSER = "browser", _("Browser")
        APP = "app", _("Tablet or phone app")

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="devices")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.APP)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class ApiToken(models.Model):
    """A bearer token for a native client. Only the SHA-256 of the token is stored."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="tokens")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)


class UserSession(models.Model):
    """A signed-in browser session, so users can list theirs and end them all at once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="web_sessions")
    session_key = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at"]


class LoginThrottle(models.Model):
    """Failed sign-in attempts per account name and per source address.

    Keyed by the name as typed, whether or not such a user exists, so unknown and known names get
    the same answer.
    """

    class Scope(models.TextChoices):
        ACCOUNT = "account", _("Account")
        ADDRESS = "address", _("Address")

    scope = models.CharField(max_length=10, choices=Scope.choices)
    key = models.CharField(max_length=200)
    failures = models.PositiveIntegerField(default=0)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    next_allowed_at = models.DateTimeField(null=True, blank=True)
    locked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="unique_throttle_key")]
