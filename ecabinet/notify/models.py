"""Notifications, their deliveries per channel, preferences, push subscriptions, reminders sent,
read receipts and nudges, and secure conversations.

State changes go through ``notify.actions``; delivery state changes through ``notify.tasks``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from ecabinet.identity.models import Device, Organisation


class Urgency(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    URGENT = "urgent", _("Urgent")


class Channel(models.TextChoices):
    INAPP = "inapp", _("In the app")
    EMAIL = "email", _("E-mail")
    WEBPUSH = "webpush", _("Push to tablet or phone")
    SMS = "sms", _("SMS")


class Notification(models.Model):
    """One event for one recipient: the row the notification centre shows."""

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=40, db_index=True)
    urgency = models.CharField(max_length=8, choices=Urgency.choices, default=Urgency.NORMAL)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=40, blank=True)
    # The object's title as the recipient may see it inside the system (never sent out by e-mail
    # unless the rules allow); empty when the object has none.
    title = models.CharField(max_length=300, blank=True)
    level = models.PositiveSmallIntegerField(default=0, help_text="classification of the object")
    url = models.CharField(max_length=300, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["recipient", "read_at"], name="notify_unread_idx"),
            models.Index(fields=["object_type", "object_id", "kind"], name="notify_object_idx"),
        ]


class Delivery(models.Model):
    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        DIGEST = "digest", _("Waiting for the daily digest")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        DELIVERED = "delivered", _("Delivered")
        READ = "read", pgettext_lazy("delivery state", "Read")
        FAILED = "failed", _("Failed")

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        constraints = [models.UniqueConstraint(fields=["notification", "channel"], name="one_delivery_per_channel")]


class Preference(models.Model):
    """A user's choices. Missing kinds fall back to the defaults in ``core.selection``."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notify_preference")
    channels = models.JSONField(default=dict, blank=True, help_text='{"kind": ["email", "webpush", ...]}')
    quiet_start = models.TimeField(null=True, blank=True)
    quiet_end = models.TimeField(null=True, blank=True)
    digest = models.BooleanField(default=False, help_text="one e-mail a day for what is not urgent")
    email_titles = models.BooleanField(default=False, help_text="put public or internal titles in e-mails")
    sms_number = models.CharField(max_length=20, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)


class PushSubscription(models.Model):
    """A browser's Web Push subscription, tied to the device it was made on."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_subscriptions")
    device = models.ForeignKey(Device, null=True, blank=True, on_delete=models.CASCADE, related_name="push_subscriptions")
    endpoint = models.URLField(max_length=1000)
    p256dh = models.CharField(max_length=200)
    auth = models.CharField(max_length=100)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=100, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["endpoint"], name="unique_push_endpoint")]


class ReminderSent(models.Model):
    """One reminder to one person for one object and window. The unique key is what makes a
    reminder go out once even when several schedulers run at the same time."""

    key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=40)
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)


class Nudge(models.Model):
    """A secretary's reminder to the members who have not read a dossier (rate-limited)."""

    meeting = models.ForeignKey("meetings.Meeting", on_delete=models.CASCADE, related_name="notify_nudges")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recipients = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]


class Conversation(models.Model):
    class Kind(models.TextChoices):
        DIRECT = "direct", _("Direct")
        GROUP = "group", _("Group")
        MEETING = "meeting", _("Meeting group")

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+", help_text="the government it belongs to")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    title = models.CharField(max_length=200, blank=True)
    meeting = models.OneToOneField("meetings.Meeting", null=True, blank=True, on_delete=models.CASCADE, related_name="conversation")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    last_message_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_message_at", "-created_at"]


class ConversationMember(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversation_memberships")
    joined_at = models.DateTimeField(default=timezone.now)
    last_read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["conversation", "user"], name="unique_conversation_member")]


class Message(models.Model):
    """A message; its text is sealed (AES-256-GCM, see ``notify.sealing``), never stored in clear."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    sealed = models.BinaryField()
    document_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["created_at", "pk"]


class RetentionPolicy(models.Model):
    """How long an organisation keeps messages; the purge task deletes older ones."""

    organisation = models.OneToOneField(Organisation, on_delete=models.CASCADE, related_name="message_retention")
    message_days = models.PositiveIntegerField()
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
