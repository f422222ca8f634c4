"""In-app channel: the notification centre row, pushed live to the recipient's ``user.<id>`` group.

The WebSocket message is rendered in the recipient's language and carries the object's title
only inside the system (the recipient may see the object: ``notify`` checked it).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db.models import Count
from django.utils import translation

from ecabinet.notify.events import LABELS
from ecabinet.notify.models import Notification
from ecabinet.web.consumers import user_group


def label(kind: str, language: str | None = None) -> str:
    text = LABELS.get(kind)
    if text is None:
        return kind
    if language:
        with translation.override(language):
            return str(text)
    return str(text)


def as_event(notification: Notification, *, language: str, unread: int) -> dict[str, Any]:
    return {
        "type": "notification",
        "id": notification.pk,
        "kind": notification.kind,
        "label": label(notification.kind, language),
        "title": notification.title,
        "url": f"/notify/{notification.pk}/open/",
        "urgency": notification.urgency,
        "created_at": notification.created_at.isoformat(),
        "unread": unread,
    }


def unread_counts(user_ids: Iterable[int]) -> dict[int, int]:
    rows = Notification.objects.filter(recipient_id__in=list(user_ids), read_at=None).values("recipient_id").annotate(n=Count("pk"))
    return {row["recipient_id"]: row["n"] for row in rows}


def send_to_groups(messages: list[tuple[int, dict[str, Any]]]) -> None:
    """Send each (user id, event) to that user's group, in one trip to the event loop."""
    layer = get_channel_layer()
    if layer is None or not messages:
        return

    async def send_all() -> None:
        for user_id, event in messages:
            await layer.group_send(user_group(user_id), {"type": "live.event", "event": event})

    async_to_sync(send_all)()


def push_live(notification_ids: list[int]) -> None:
    notifications = list(Notification.objects.filter(pk__in=notification_ids).select_related("recipient"))
    counts = unread_counts({n.recipient_id for n in notifications})
    send_to_groups([(n.recipient_id, as_event(n, language=n.recipient.language, unread=counts.get(n.recipient_id, 0))) for n in notifications])


def push_unread(user_id: int) -> None:
    count = unread_counts([user_id]).get(user_id, 0)
    send_to_groups([(user_id, {"type": "notification.unread", "unread": count})])
