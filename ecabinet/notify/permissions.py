"""Who may see notifications, receipts and conversations. Decided here only.

A notification is its recipient's alone; a meeting's group conversation is open to the people
who attend the meeting (participants and the chair) and to nobody else; other conversations to
their members. Anything else is a 404.
"""

from __future__ import annotations

from typing import Any

from ecabinet.identity.models import Role
from ecabinet.identity.permissions import is_signed_in
from ecabinet.meetings import permissions as mp
from ecabinet.meetings.models import Meeting
from ecabinet.notify.models import Conversation, ConversationMember, Notification


def can_see_notification(user: Any, notification: Notification) -> bool:
    return is_signed_in(user) and notification.recipient_id == user.pk


def can_see_receipts(user: Any, meeting: Meeting) -> bool:
    """The secretaries running the meeting and the chair see who has read its dossier."""
    return is_signed_in(user) and mp.can_manage_meeting(user, meeting)


def can_nudge(user: Any, meeting: Meeting) -> bool:
    return can_see_receipts(user, meeting)


def can_see_conversation(user: Any, conversation: Conversation) -> bool:
    if not is_signed_in(user):
        return False
    if conversation.kind == Conversation.Kind.MEETING:
        meeting = conversation.meeting
        return meeting is not None and mp.can_attend(user, meeting)
    return ConversationMember.objects.filter(conversation=conversation, user=user).exists()


def can_open_meeting_conversation(user: Any, meeting: Meeting) -> bool:
    return is_signed_in(user) and mp.can_attend(user, meeting)


def can_start_conversation(user: Any) -> bool:
    return is_signed_in(user) and user.organisation_id is not None


def same_government(a: Any, b: Any) -> bool:
    if a.organisation is None or b.organisation is None:
        return False
    return bool(a.organisation.government.pk == b.organisation.government.pk)


def can_set_retention(user: Any, organisation: Any) -> bool:
    if not is_signed_in(user) or user.role != Role.ADMIN or user.organisation is None:
        return False
    return bool(user.organisation.government.pk == organisation.government.pk)
