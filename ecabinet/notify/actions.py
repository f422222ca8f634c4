"""The one way in (``notify``) and every state change of the notify app.

Other apps call ``notify(kind, recipients=..., obj=..., urgency=...)`` inside their own
transaction; the rows commit with the change that caused them, and live events and delivery
tasks leave only after commit.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import Callable, Iterable
from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from ecabinet import errors as base_errors
from ecabinet.audit.actions import record
from ecabinet.identity.models import Clearance, Device, Organisation, User
from ecabinet.meetings.models import Meeting, Participant
from ecabinet.notify import errors, events, permissions, sealing, targets
from ecabinet.notify.core import selection
from ecabinet.notify.models import (
    Channel,
    Conversation,
    ConversationMember,
    Delivery,
    Message,
    Notification,
    Nudge,
    Preference,
    PushSubscription,
    ReminderSent,
    RetentionPolicy,
    Urgency,
)

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 4000
SMS_NUMBER = re.compile(r"^\+[1-9]\d{6,14}$")


# --- the one way in -------------------------------------------------------------------------------


def notify(
    event_kind: str,
    *,
    recipients: Iterable[User],
    obj: Any = None,
    urgency: str = Urgency.NORMAL,
    context: dict[str, Any] | None = None,
    acting_user: Any = None,
    can_see: Callable[[Any, Any], bool] | None = None,
) -> list[Notification]:
    """Notify each recipient who may see ``obj``; choose channels per recipient; record deliveries.

    ``can_see(user, obj)`` overrides the registered permission of ``obj``'s type. An object whose
    type is neither registered nor given a ``can_see`` reaches nobody: better silent than leaking.
    ``context`` is kept with the notification for templates and the client (no secrets in it).
    """
    if event_kind not in events.LABELS:
        raise errors.UnknownKind(f"Unknown notification kind {event_kind!r}.")
    if urgency not in Urgency.values:
        raise base_errors.InvalidInput(f"Unknown urgency {urgency!r}.")
    target = targets.lookup(obj)
    check = can_see or (target.can_see if target else None)
    unique: dict[int, User] = {}
    for user in recipients:
        if user is not None and user.is_active:
            unique.setdefault(user.pk, user)
    if obj is not None and check is None:
        log.error("notify(%s): %s is not registered in notify.targets; nobody notified", event_kind, obj._meta.label_lower)
        return []
    allowed = [user for user in unique.values() if check is None or check(user, obj)]
    withheld = len(unique) - len(allowed)
    title = (target.title(obj) if target else str((context or {}).get("title", "")))[:300]
    level = target.level(obj) if target else int((context or {}).get("level", Clearance.PUBLIC))
    url = target.url(obj) if target else str((context or {}).get("url", "/"))[:300]
    object_type = obj._meta.label_lower if obj is not None else ""
    object_id = str(obj.pk) if obj is not None else ""
    prefs = {p.user_id: p for p in Preference.objects.filter(user_id__in=[u.pk for u in allowed])}
    pushable = set(PushSubscription.objects.filter(user_id__in=[u.pk for u in allowed], revoked_at=None).values_list("user_id", flat=True))
    local_time = timezone.localtime().time()
    now = timezone.now()
    with transaction.atomic():
        notifications = Notification.objects.bulk_create(
            [
                Notification(
                    recipient=user,
                    kind=event_kind,
                    urgency=urgency,
                    object_type=object_type,
                    object_id=object_id,
                    title=title,
                    level=level,
                    url=url,
                    data=context or {},
                    created_at=now,
                )
                for user in allowed
            ]
        )
        deliveries: list[Delivery] = []
        for notification in notifications:
            pref = prefs.get(notification.recipient_id)
            choice = selection.choose(
                event_kind,
                urgency,
                _prefs_view(pref),
                local_time=local_time,
                has_push=notification.recipient_id in pushable,
                has_sms=bool(pref and pref.sms_number),
                sms_kinds=events.SMS_KINDS,
            )
            for channel in sorted(choice.channels):
                if channel == Channel.INAPP:
                    state, sent_at = Delivery.State.SENT, now
                elif channel == Channel.EMAIL and choice.digest_email:
                    state, sent_at = Delivery.State.DIGEST, None
                else:
                    state, sent_at = Delivery.State.QUEUED, None
                deliveries.append(Delivery(notification=notification, channel=channel, state=state, sent_at=sent_at, created_at=now, updated_at=now))
        Delivery.objects.bulk_create(deliveries)
        record(
            events.NOTIFIED,
            actor=acting_user,
            obj=obj,
            details={"kind": event_kind, "urgency": urgency, "recipients": len(notifications), "withheld": withheld},
        )
        ids = [n.pk for n in notifications]
        queued = [d.pk for d in deliveries if d.state == Delivery.State.QUEUED]
        transaction.on_commit(lambda: _after_commit(ids, queued))
    return notifications


def _after_commit(notification_ids: list[int], delivery_ids: list[int]) -> None:
    from ecabinet.notify.channels import inapp
    from ecabinet.notify.tasks import deliver, deliver_batch

    try:
        inapp.push_live(notification_ids)
    except Exception:  # the centre has the row; a dropped live event must not stop e-mail
        log.exception("live notification push failed")
    if len(delivery_ids) > 50 and not settings.CELERY_TASK_ALWAYS_EAGER:
        for start in range(0, len(delivery_ids), 50):
            deliver_batch.delay(delivery_ids[start : start + 50])
    else:
        for delivery_id in delivery_ids:
            deliver.delay(delivery_id)


def _prefs_view(pref: Preference | None) -> selection.Prefs:
    if pref is None:
        return selection.Prefs()
    return selection.Prefs(channels=pref.channels or {}, quiet_start=pref.quiet_start, quiet_end=pref.quiet_end, digest=pref.digest)


# --- the notification centre ----------------------------------------------------------------------


def mark_read(notification: Notification, *, acting_user: User) -> Notification:
    if not permissions.can_see_notification(acting_user, notification):
        raise base_errors.NotFound()
    with transaction.atomic():
        now = timezone.now()
        changed = Notification.objects.filter(pk=notification.pk, read_at=None).update(read_at=now)
        if changed:
            Delivery.objects.filter(notification=notification, channel=Channel.INAPP).update(state=Delivery.State.READ, updated_at=now)
            record(
                events.READ,
                actor=acting_user,
                obj=notification,
                details={"kind": notification.kind, "object": f"{notification.object_type}:{notification.object_id}"},
            )
            user_id = acting_user.pk
            transaction.on_commit(lambda: _push_unread(user_id))
    notification.refresh_from_db()
    return notification


def mark_all_read(*, acting_user: User) -> int:
    with transaction.atomic():
        now = timezone.now()
        ids = list(Notification.objects.filter(recipient=acting_user, read_at=None).values_list("pk", flat=True))
        if not ids:
            return 0
        Notification.objects.filter(pk__in=ids).update(read_at=now)
        Delivery.objects.filter(notification_id__in=ids, channel=Channel.INAPP).update(state=Delivery.State.READ, updated_at=now)
        record(events.READ, actor=acting_user, obj=acting_user, details={"all": True, "count": len(ids)})
        user_id = acting_user.pk
        transaction.on_commit(lambda: _push_unread(user_id))
    return len(ids)


def _push_unread(user_id: int) -> None:
    from ecabinet.notify.channels import inapp

    inapp.push_unread(user_id)


def set_preferences(
    *,
    acting_user: User,
    channels: dict[str, list[str]] | None = None,
    quiet_start: time | None = None,
    quiet_end: time | None = None,
    digest: bool | None = None,
    email_titles: bool | None = None,
    sms_number: str | None = None,
) -> Preference:
    if channels is not None:
        for kind, chosen in channels.items():
            if kind not in events.LABELS:
                raise errors.InvalidPreferences(f"Unknown notification kind {kind!r}.", field="channels")
            bad = set(chosen) - set(Channel.values)
            if bad:
                raise errors.InvalidPreferences(f"Unknown channel {sorted(bad)[0]!r} for {kind}.", field="channels")
    if (quiet_start is None) != (quiet_end is None):
        raise errors.InvalidPreferences("Give both the start and the end of quiet hours, or neither.", field="quiet_start")
    if sms_number and not SMS_NUMBER.match(sms_number):
        raise errors.InvalidPreferences("The SMS number must be in international form, like +84912345678.", field="sms_number")
    with transaction.atomic():
        pref, _created = Preference.objects.select_for_update().get_or_create(user=acting_user)
        if channels is not None:
            pref.channels = {kind: sorted(set(chosen)) for kind, chosen in channels.items()}
        pref.quiet_start, pref.quiet_end = quiet_start, quiet_end
        if digest is not None:
            pref.digest = digest
        if email_titles is not None:
            pref.email_titles = email_titles
        if sms_number is not None:
            pref.sms_number = sms_number
        pref.updated_at = timezone.now()
        pref.save()
        record(
            events.PREFERENCES_CHANGED,
            actor=acting_user,
            obj=acting_user,
            details={
                "kinds": sorted(pref.channels),
                "quiet": bool(pref.quiet_start),
                "digest": pref.digest,
                "titles": pref.email_titles,
                "sms": bool(pref.sms_number),
            },
        )
    return pref


# --- web push subscriptions -----------------------------------------------------------------------


def _b64url(value: str, *, length: int, field: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise errors.InvalidSubscription(f"{field} is not base64url.", field=field)
    if len(raw) != length:
        raise errors.InvalidSubscription(f"{field} must be {length} bytes.", field=field)
    return raw


def _check_endpoint(endpoint: str) -> None:
    parts = urlsplit(endpoint)
    local = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and local and not settings.PRODUCTION):
        raise errors.InvalidSubscription("The push endpoint must be an https URL.", field="endpoint")
    if not parts.hostname or len(endpoint) > 1000:
        raise errors.InvalidSubscription("The push endpoint is not a valid URL.", field="endpoint")


def subscribe_push(*, acting_user: User, endpoint: str, p256dh: str, auth: str, device: Device | None = None, user_agent: str = "") -> PushSubscription:
    _check_endpoint(endpoint)
    if _b64url(p256dh, length=65, field="p256dh")[0] != 4:
        raise errors.InvalidSubscription("p256dh must be an uncompressed P-256 point.", field="p256dh")
    _b64url(auth, length=16, field="auth")
    if device is not None and device.user_id != acting_user.pk:
        raise base_errors.NotFound()
    with transaction.atomic():
        existing = PushSubscription.objects.select_for_update().filter(endpoint=endpoint).first()
        if existing is not None and existing.user_id != acting_user.pk:
            # The browser profile changed hands: the endpoint now belongs to whoever subscribed last.
            existing.delete()
            existing = None
        sub = existing or PushSubscription(user=acting_user, endpoint=endpoint)
        sub.p256dh, sub.auth, sub.device, sub.user_agent = p256dh, auth, device, user_agent[:300]
        sub.revoked_at, sub.revoked_reason = None, ""
        sub.save()
        record(events.PUSH_SUBSCRIBED, actor=acting_user, obj=sub, details={"device": device.pk if device else None, "host": urlsplit(endpoint).hostname})
    return sub


def unsubscribe_push(subscription: PushSubscription, *, acting_user: User) -> None:
    if subscription.user_id != acting_user.pk:
        raise base_errors.NotFound()
    with transaction.atomic():
        PushSubscription.objects.filter(pk=subscription.pk, revoked_at=None).update(revoked_at=timezone.now(), revoked_reason="unsubscribed")
        record(events.PUSH_UNSUBSCRIBED, actor=acting_user, obj=subscription)


# --- reminders: once per key, however many schedulers run ----------------------------------------


def remind_once(
    kind: str, *, obj: Any, recipients: Iterable[User], window: str, urgency: str = Urgency.NORMAL, context: dict[str, Any] | None = None
) -> list[Notification]:
    """Notify those recipients not yet reminded for (kind, object, window); claim each by a unique key.

    The claim and the notification commit together: a scheduler that loses the race for a key gets
    an IntegrityError for that recipient and skips them; one that crashes leaves no claim behind.
    """
    label = obj._meta.label_lower
    with transaction.atomic():
        fresh: list[User] = []
        for user in recipients:
            key = f"{kind}|{label}:{obj.pk}|{user.pk}|{window}"[:200]
            try:
                with transaction.atomic():
                    ReminderSent.objects.create(key=key, kind=kind, recipient=user)
            except IntegrityError:
                continue
            fresh.append(user)
        if not fresh:
            return []
        return notify(kind, recipients=fresh, obj=obj, urgency=urgency, context=context)


# --- read receipts and nudges ---------------------------------------------------------------------

DOSSIER_KINDS = (events.DOSSIER_PUBLISHED, events.DOSSIER_NUDGE)


def dossier_receipts(meeting: Meeting) -> list[dict[str, Any]]:
    """For each participant: whether they received the dossier notice and when they first opened it."""
    rows = Notification.objects.filter(object_type="meetings.meeting", object_id=str(meeting.pk), kind__in=DOSSIER_KINDS).values_list(
        "recipient_id", "created_at", "read_at"
    )
    received: dict[int, datetime] = {}
    opened: dict[int, datetime] = {}
    for user_id, created_at, read_at in rows:
        received[user_id] = min(received.get(user_id, created_at), created_at)
        if read_at is not None:
            opened[user_id] = min(opened.get(user_id, read_at), read_at)
    result = []
    for part in Participant.objects.filter(meeting=meeting).select_related("user").order_by("user__full_name", "user__username"):
        result.append(
            {
                "user": part.user,
                "kind": part.kind,
                "received_at": received.get(part.user_id),
                "opened_at": opened.get(part.user_id),
            }
        )
    return result


def dossier_unread(meeting: Meeting) -> list[User]:
    """Members (voting participants) who received the dossier and have not opened it yet."""
    return [row["user"] for row in dossier_receipts(meeting) if row["kind"] == Participant.Kind.MEMBER and row["received_at"] and not row["opened_at"]]


def nudge_unread(meeting: Meeting, *, acting_user: User, source_ip: str | None = None) -> list[Notification]:
    """Remind the members who have not read the dossier. Once per ``NOTIFY_NUDGE_HOURS`` per meeting."""
    from ecabinet.meetings import permissions as mp

    with transaction.atomic():
        locked = Meeting.objects.select_for_update().get(pk=meeting.pk)
        if not permissions.can_nudge(acting_user, locked):
            if mp.can_see_meeting(acting_user, locked):
                raise base_errors.Forbidden("Only the chair or a secretary of the government office can remind members.")
            raise base_errors.NotFound()
        last = Nudge.objects.filter(meeting=locked).order_by("-created_at").first()
        wait = timedelta(hours=settings.NOTIFY_NUDGE_HOURS)
        if last is not None and timezone.now() - last.created_at < wait:
            retry_at = last.created_at + wait
            raise errors.NudgeTooSoon(
                f"Members were reminded at {timezone.localtime(last.created_at):%H:%M}; next possible at {timezone.localtime(retry_at):%H:%M}.",
                retry_at=retry_at.isoformat(),
            )
        unread = dossier_unread(locked)
        Nudge.objects.create(meeting=locked, by=acting_user, recipients=[u.pk for u in unread])
        record(events.NUDGED, actor=acting_user, obj=locked, source_ip=source_ip, details={"recipients": [u.pk for u in unread]})
        return notify(events.DOSSIER_NUDGE, recipients=unread, obj=locked, acting_user=acting_user)


# --- secure messaging -----------------------------------------------------------------------------


def _government(user: User) -> Organisation:
    if user.organisation is None:
        raise errors.InvalidConversation("You belong to no organisation.")
    return user.organisation.government


def create_conversation(*, acting_user: User, members: Iterable[User], title: str = "") -> Conversation:
    """A direct (one other person) or group conversation inside the caller's government."""
    if not permissions.can_start_conversation(acting_user):
        raise base_errors.Forbidden("You cannot start conversations.")
    others = {u.pk: u for u in members if u.pk != acting_user.pk}
    if not others:
        raise errors.InvalidConversation("Name at least one other person.")
    for user in others.values():
        if not user.is_active or not permissions.same_government(acting_user, user):
            raise errors.InvalidConversation("Conversations are only with active people of your government.", field="members")
    title = title.strip()[:200]
    with transaction.atomic():
        conv = Conversation.objects.create(
            organisation=_government(acting_user),
            kind=Conversation.Kind.DIRECT if len(others) == 1 and not title else Conversation.Kind.GROUP,
            title=title,
            created_by=acting_user,
        )
        ConversationMember.objects.bulk_create([ConversationMember(conversation=conv, user_id=pk) for pk in [acting_user.pk, *others]])
        record(events.CONVERSATION_CREATED, actor=acting_user, obj=conv, details={"kind": conv.kind, "members": sorted([acting_user.pk, *others])})
    return conv


def meeting_conversation(meeting: Meeting, *, acting_user: User) -> Conversation:
    """The meeting's group, made on first use. Open to whoever attends the meeting."""
    if not permissions.can_open_meeting_conversation(acting_user, meeting):
        raise base_errors.NotFound()
    existing = Conversation.objects.filter(meeting=meeting).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            conv = Conversation.objects.create(
                organisation=meeting.organisation.government, kind=Conversation.Kind.MEETING, meeting=meeting, title=meeting.title[:200], created_by=acting_user
            )
            record(events.CONVERSATION_CREATED, actor=acting_user, obj=conv, details={"kind": conv.kind, "meeting": meeting.pk})
            return conv
    except IntegrityError:  # made by someone else a moment ago
        return Conversation.objects.get(meeting=meeting)


def conversation_audience(conversation: Conversation) -> list[User]:
    if conversation.kind == Conversation.Kind.MEETING and conversation.meeting is not None:
        meeting = conversation.meeting
        ids = set(Participant.objects.filter(meeting=meeting).values_list("user_id", flat=True)) | {meeting.chair_id}
        users = User.objects.filter(pk__in=ids, is_active=True).select_related("organisation")
        return [u for u in users if permissions.can_see_conversation(u, conversation)]
    return list(User.objects.filter(conversation_memberships__conversation=conversation, is_active=True))


def send_message(conversation: Conversation, *, acting_user: User, text: str, document_id: int | None = None, source_ip: str | None = None) -> Message:
    """Post a message. Its text is sealed at rest; it goes live to members only, never by e-mail."""
    if not permissions.can_see_conversation(acting_user, conversation):
        raise base_errors.NotFound()
    text = text.replace("\r\n", "\n").strip()
    if not text:
        raise errors.EmptyMessage()
    if len(text) > MAX_MESSAGE_CHARS:
        raise errors.MessageTooLong(f"A message holds at most {MAX_MESSAGE_CHARS} characters; this one has {len(text)}.", limit=MAX_MESSAGE_CHARS)
    document = _referenced_document(document_id, acting_user) if document_id is not None else None
    with transaction.atomic():
        message = Message.objects.create(
            conversation=conversation,
            sender=acting_user,
            sealed=sealing.seal(text, conversation_id=conversation.pk),
            document_id=document.pk if document else None,
        )
        Conversation.objects.filter(pk=conversation.pk).update(last_message_at=message.created_at)
        ConversationMember.objects.update_or_create(conversation=conversation, user=acting_user, defaults={"last_read_at": message.created_at})
        record(
            events.MESSAGE_SENT, actor=acting_user, obj=message, source_ip=source_ip, details={"conversation": conversation.pk, "document": message.document_id}
        )
        message_id = message.pk
        transaction.on_commit(lambda: _push_message(message_id))
    return message


def _referenced_document(document_id: int, user: User) -> Any:
    """A sender may only reference a document they can see themselves (else it does not exist)."""
    from ecabinet.documents.models import Document
    from ecabinet.documents.permissions import can_see_document

    document = Document.objects.filter(pk=document_id).first()
    if document is None or not can_see_document(user, document):
        raise base_errors.NotFound("No such document.")
    return document


def document_reference(document_id: int | None, viewer: User) -> dict[str, Any] | None:
    """What ``viewer`` sees of a referenced document: its title, or only that it is restricted."""
    if document_id is None:
        return None
    from ecabinet.documents.models import Document
    from ecabinet.documents.permissions import can_see_document

    document = Document.objects.filter(pk=document_id).first()
    if document is None or not can_see_document(viewer, document):
        return {"id": None, "restricted": True, "title": ""}
    return {"id": document.pk, "restricted": False, "title": document.title}


def message_view(message: Message, viewer: User) -> dict[str, Any]:
    return {
        "type": "message",
        "id": message.pk,
        "conversation": message.conversation_id,
        "sender": message.sender_id,
        "sender_name": message.sender.display_name,
        "text": sealing.unseal(bytes(message.sealed), conversation_id=message.conversation_id),
        "document": document_reference(message.document_id, viewer),
        "created_at": message.created_at.isoformat(),
    }


def _push_message(message_id: int) -> None:
    from ecabinet.notify.channels import inapp

    message = Message.objects.select_related("sender", "conversation__meeting").get(pk=message_id)
    audience = conversation_audience(message.conversation)
    inapp.send_to_groups([(user.pk, message_view(message, user)) for user in audience])


def mark_conversation_read(conversation: Conversation, *, acting_user: User) -> ConversationMember:
    if not permissions.can_see_conversation(acting_user, conversation):
        raise base_errors.NotFound()
    member, _created = ConversationMember.objects.update_or_create(conversation=conversation, user=acting_user, defaults={"last_read_at": timezone.now()})
    return member


def set_retention(organisation: Organisation, *, days: int, acting_user: User) -> RetentionPolicy:
    if not permissions.can_set_retention(acting_user, organisation):
        raise base_errors.Forbidden("Only an administrator of this government sets message retention.")
    if days < 1 or days > 36500:
        raise base_errors.InvalidInput("Retention is between 1 and 36500 days.", field="days")
    government = organisation.government
    with transaction.atomic():
        policy, _created = RetentionPolicy.objects.update_or_create(
            organisation=government, defaults={"message_days": days, "updated_at": timezone.now(), "updated_by": acting_user}
        )
        record(events.RETENTION_SET, actor=acting_user, obj=policy, details={"days": days})
    return policy


def purge_messages(*, now: datetime | None = None) -> int:
    """Delete messages older than their organisation's retention. Run daily by the scheduler."""
    now = now or timezone.now()
    total = 0
    for policy in RetentionPolicy.objects.all():
        cutoff = now - timedelta(days=policy.message_days)
        with transaction.atomic():
            deleted, _ = Message.objects.filter(conversation__organisation_id=policy.organisation_id, created_at__lt=cutoff).delete()
            if deleted:
                record(events.MESSAGES_PURGED, obj=policy, details={"deleted": deleted, "before": cutoff.isoformat()})
        total += deleted
    return total
