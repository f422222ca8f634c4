"""Notification centre, preferences, push subscriptions, dossier receipts and conversations."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field

from ecabinet import errors as base_errors
from ecabinet.identity.auth import api_user, session_or_token
from ecabinet.identity.models import User
from ecabinet.identity.schemas import Input
from ecabinet.meetings import permissions as mp
from ecabinet.meetings.models import Meeting
from ecabinet.notify import actions, permissions
from ecabinet.notify.channels import inapp, webpush
from ecabinet.notify.models import Conversation, Message, Notification, PushSubscription
from ecabinet.web.net import client_ip

router = Router(auth=session_or_token, tags=["notifications and messages"])


class NotificationOut(Schema):
    id: int
    kind: str
    label: str
    title: str
    urgency: str
    url: str
    created_at: datetime
    read_at: datetime | None


def _out(n: Notification, user: User) -> NotificationOut:
    return NotificationOut(
        id=n.pk, kind=n.kind, label=inapp.label(n.kind, user.language), title=n.title, urgency=n.urgency, url=n.url, created_at=n.created_at, read_at=n.read_at
    )


class Filters(Schema):
    unread: bool = False
    kind: str | None = None
    limit: int = Field(default=50, ge=1, le=200)


@router.get("/notifications", response=list[NotificationOut], summary="My notifications, newest first")
def list_notifications(request: HttpRequest, filters: Query[Filters]) -> list[NotificationOut]:
    qs = Notification.objects.filter(recipient_id=request.user.pk)
    if filters.unread:
        qs = qs.filter(read_at=None)
    if filters.kind:
        qs = qs.filter(kind__startswith=filters.kind)
    return [_out(n, api_user(request)) for n in qs[: filters.limit]]


@router.get("/notifications/unread-count", summary="How many of my notifications are unread")
def unread_count(request: HttpRequest) -> dict[str, int]:
    return {"unread": Notification.objects.filter(recipient_id=request.user.pk, read_at=None).count()}


def _notification(request: HttpRequest, notification_id: int) -> Notification:
    n = Notification.objects.filter(pk=notification_id).first()
    if n is None or not permissions.can_see_notification(request.user, n):
        raise base_errors.NotFound()
    return n


@router.post("/notifications/{notification_id}/read", response=NotificationOut, summary="Mark one notification read")
def read_one(request: HttpRequest, notification_id: int) -> NotificationOut:
    n = actions.mark_read(_notification(request, notification_id), acting_user=api_user(request))
    return _out(n, api_user(request))


@router.post("/notifications/read-all", summary="Mark all my notifications read")
def read_all(request: HttpRequest) -> dict[str, int]:
    return {"marked": actions.mark_all_read(acting_user=api_user(request))}


class PreferencesIn(Input):
    channels: dict[str, list[str]] | None = None
    quiet_start: time | None = None
    quiet_end: time | None = None
    digest: bool | None = None
    email_titles: bool | None = None
    sms_number: str | None = Field(default=None, max_length=20)


class PreferencesOut(Schema):
    channels: dict[str, list[str]]
    quiet_start: time | None
    quiet_end: time | None
    digest: bool
    email_titles: bool
    sms_number: str


@router.get("/notify/preferences", response=PreferencesOut)
def get_preferences(request: HttpRequest) -> Any:
    from ecabinet.notify.models import Preference

    pref = Preference.objects.filter(user=api_user(request)).first()
    return pref or PreferencesOut(channels={}, quiet_start=None, quiet_end=None, digest=False, email_titles=False, sms_number="")


@router.put("/notify/preferences", response=PreferencesOut)
def put_preferences(request: HttpRequest, payload: PreferencesIn) -> Any:
    return actions.set_preferences(acting_user=api_user(request), **payload.model_dump())


class SubscriptionKeys(Input):
    p256dh: str = Field(max_length=200)
    auth: str = Field(max_length=100)


class SubscriptionIn(Input):
    endpoint: str = Field(max_length=1000)
    keys: SubscriptionKeys
    expirationTime: Any = None  # noqa: N815 - the browser's PushSubscription.toJSON() name


class SubscriptionOut(Schema):
    id: int
    endpoint: str
    created_at: datetime
    device_id: int | None


@router.get("/notify/push/key", auth=None, summary="The VAPID public key (applicationServerKey)")
def push_key(request: HttpRequest) -> dict[str, str]:
    return {"public_key": webpush.public_key()}


@router.get("/notify/push/subscriptions", response=list[SubscriptionOut])
def list_subscriptions(request: HttpRequest) -> Any:
    return list(PushSubscription.objects.filter(user=api_user(request), revoked_at=None))


@router.post("/notify/push/subscriptions", response={201: SubscriptionOut})
def subscribe(request: HttpRequest, payload: SubscriptionIn) -> Any:
    device = getattr(request.user, "api_device", None)
    sub = actions.subscribe_push(
        acting_user=api_user(request),
        endpoint=payload.endpoint,
        p256dh=payload.keys.p256dh,
        auth=payload.keys.auth,
        device=device,
        user_agent=request.headers.get("User-Agent", ""),
    )
    return Status(201, sub)


@router.delete("/notify/push/subscriptions/{subscription_id}", response={204: None})
def unsubscribe(request: HttpRequest, subscription_id: int) -> Any:
    sub = PushSubscription.objects.filter(pk=subscription_id, user=api_user(request)).first()
    if sub is None:
        raise base_errors.NotFound()
    actions.unsubscribe_push(sub, acting_user=api_user(request))
    return Status(204, None)


class ReceiptOut(Schema):
    user_id: int
    name: str
    kind: str
    received_at: datetime | None
    opened_at: datetime | None


def _meeting(request: HttpRequest, meeting_id: int) -> Meeting:
    meeting = Meeting.objects.select_related("organisation").filter(pk=meeting_id).first()
    if meeting is None or not mp.can_see_meeting(request.user, meeting):
        raise base_errors.NotFound()
    return meeting


@router.get("/meetings/{meeting_id}/dossier/receipts", response=list[ReceiptOut], summary="Who received and who opened the dossier")
def dossier_receipts(request: HttpRequest, meeting_id: int) -> list[ReceiptOut]:
    meeting = _meeting(request, meeting_id)
    if not permissions.can_see_receipts(request.user, meeting):
        raise base_errors.Forbidden("Only the chair or a secretary of the government office sees read receipts.")
    return [
        ReceiptOut(user_id=r["user"].pk, name=r["user"].display_name, kind=r["kind"], received_at=r["received_at"], opened_at=r["opened_at"])
        for r in actions.dossier_receipts(meeting)
    ]


@router.post("/meetings/{meeting_id}/dossier/nudge", summary="Remind the members who have not read the dossier")
def nudge(request: HttpRequest, meeting_id: int) -> dict[str, Any]:
    meeting = _meeting(request, meeting_id)
    sent = actions.nudge_unread(meeting, acting_user=api_user(request), source_ip=client_ip(request))
    return {"reminded": sorted(n.recipient_id for n in sent)}


# --- conversations ------------------------------------------------------------------------------


class ConversationIn(Input):
    members: list[int] = Field(min_length=1, max_length=100)
    title: str = Field(default="", max_length=200)


class ConversationOut(Schema):
    id: int
    kind: str
    title: str
    meeting_id: int | None
    last_message_at: datetime | None


class MessageIn(Input):
    # The limit is enforced by the action (with its own problem code); this only bounds parsing.
    text: str = Field(max_length=100_000)
    document_id: int | None = None


class DocumentRef(Schema):
    id: int | None
    restricted: bool
    title: str


class MessageOut(Schema):
    id: int
    conversation: int
    sender: int
    sender_name: str
    text: str
    document: DocumentRef | None
    created_at: datetime


def _conversation(request: HttpRequest, conversation_id: int) -> Conversation:
    conv = Conversation.objects.select_related("meeting").filter(pk=conversation_id).first()
    if conv is None or not permissions.can_see_conversation(request.user, conv):
        raise base_errors.NotFound()
    return conv


@router.get("/conversations", response=list[ConversationOut])
def list_conversations(request: HttpRequest) -> Any:
    mine = Conversation.objects.filter(members__user=api_user(request))
    meetings = Conversation.objects.filter(kind=Conversation.Kind.MEETING).select_related("meeting")
    result = {c.pk: c for c in mine}
    for conv in meetings.filter(meeting__in=mp.visible_meetings(request.user)):
        if permissions.can_see_conversation(request.user, conv):
            result[conv.pk] = conv
    return sorted(result.values(), key=lambda c: c.last_message_at or c.created_at, reverse=True)


@router.post("/conversations", response={201: ConversationOut})
def start_conversation(request: HttpRequest, payload: ConversationIn) -> Any:
    members = list(User.objects.filter(pk__in=payload.members).select_related("organisation"))
    if len(members) != len(set(payload.members)):
        raise base_errors.NotFound("No such person.")
    return Status(201, actions.create_conversation(acting_user=api_user(request), members=members, title=payload.title))


@router.post("/meetings/{meeting_id}/conversation", response=ConversationOut, summary="The meeting's group conversation (made on first use)")
def meeting_conversation(request: HttpRequest, meeting_id: int) -> Any:
    return actions.meeting_conversation(_meeting(request, meeting_id), acting_user=api_user(request))


@router.get("/conversations/{conversation_id}/messages", response=list[MessageOut])
def list_messages(request: HttpRequest, conversation_id: int, before: int | None = None, limit: int = 100) -> Any:
    conv = _conversation(request, conversation_id)
    qs = Message.objects.filter(conversation=conv).select_related("sender").order_by("-pk")
    if before:
        qs = qs.filter(pk__lt=before)
    messages = list(qs[: max(1, min(limit, 200))])[::-1]
    return [actions.message_view(m, api_user(request)) for m in messages]


@router.post("/conversations/{conversation_id}/messages", response={201: MessageOut})
def post_message(request: HttpRequest, conversation_id: int, payload: MessageIn) -> Any:
    conv = _conversation(request, conversation_id)
    message = actions.send_message(conv, acting_user=api_user(request), text=payload.text, document_id=payload.document_id, source_ip=client_ip(request))
    return Status(201, actions.message_view(message, api_user(request)))


@router.post("/conversations/{conversation_id}/read")
def read_conversation(request: HttpRequest, conversation_id: int) -> dict[str, Any]:
    member = actions.mark_conversation_read(_conversation(request, conversation_id), acting_user=api_user(request))
    return {"last_read_at": member.last_read_at}
