"""Notification kinds (what other apps raise through ``notify``) and this app's audit events."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

# --- notification kinds -------------------------------------------------------------------------
MEETING_INVITATION = "meeting.invitation"
MEETING_CHANGED = "meeting.changed"
MEETING_CANCELLED = "meeting.cancelled"
MEETING_REMINDER = "meeting.reminder"
DOSSIER_PUBLISHED = "dossier.published"
DOSSIER_NUDGE = "dossier.nudge"
DOCUMENT_UPDATED = "document.updated"
POSITIONS_DUE = "positions.due"
VOTE_OPENED = "vote.opened"
VOTE_CLOSING = "vote.closing"
VOTE_CLOSED = "vote.closed"
CONSULTATION_OPENED = "consultation.opened"
CONSULTATION_DUE = "consultation.due"
TASK_ASSIGNED = "task.assigned"
TASK_DUE = "task.due"
TASK_OVERDUE = "task.overdue"
MINUTES_READY = "minutes.ready"
SECURITY_ALERT = "security.alert"
DEVICE_ENROLLED = "device.enrolled"
DEVICE_REVOKED = "device.revoked"
NEW_DEVICE_SIGNIN = "signin.new_device"

# What the recipient reads as the headline, in their language. Never the object's content.
LABELS = {
    MEETING_INVITATION: _("You are invited to a meeting"),
    MEETING_CHANGED: _("A meeting you attend has changed"),
    MEETING_CANCELLED: _("A meeting you attend was cancelled"),
    MEETING_REMINDER: _("A meeting is coming up"),
    DOSSIER_PUBLISHED: _("A meeting dossier was published"),
    DOSSIER_NUDGE: _("Please read the meeting dossier"),
    DOCUMENT_UPDATED: _("A document was updated"),
    POSITIONS_DUE: _("Your positions are due"),
    VOTE_OPENED: _("A vote is open"),
    VOTE_CLOSING: _("A vote is closing soon"),
    VOTE_CLOSED: _("A vote has closed"),
    CONSULTATION_OPENED: _("A written consultation is open"),
    CONSULTATION_DUE: _("A written consultation is due"),
    TASK_ASSIGNED: _("A follow-up task was assigned"),
    TASK_DUE: _("A follow-up task is due"),
    TASK_OVERDUE: _("A follow-up task is overdue"),
    MINUTES_READY: _("Minutes are ready for approval"),
    SECURITY_ALERT: _("Security alert"),
    DEVICE_ENROLLED: _("A device was enrolled on your account"),
    DEVICE_REVOKED: _("A device was revoked from your account"),
    NEW_DEVICE_SIGNIN: _("Sign-in from a new device"),
}
KINDS = tuple(LABELS)

# Kinds that go by SMS when the recipient has a number (besides anything urgent).
SMS_KINDS = frozenset({NEW_DEVICE_SIGNIN})
# Kinds whose e-mail carries the meeting's .ics.
ICS_KINDS = frozenset({MEETING_INVITATION, MEETING_CHANGED, MEETING_CANCELLED})

# --- audit events -------------------------------------------------------------------------------
NOTIFIED = "notify.sent"
READ = "notify.read"
PREFERENCES_CHANGED = "notify.preferences_changed"
PUSH_SUBSCRIBED = "notify.push_subscribed"
PUSH_UNSUBSCRIBED = "notify.push_unsubscribed"
DELIVERY_FAILED = "notify.delivery_failed"
NUDGED = "notify.dossier_nudged"
CONVERSATION_CREATED = "notify.conversation_created"
MESSAGE_SENT = "notify.message_sent"
RETENTION_SET = "notify.retention_set"
MESSAGES_PURGED = "notify.messages_purged"
