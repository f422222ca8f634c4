"""Live events of a meeting, pushed to every connected client of that meeting after commit.

Each message carries the lowest clearance allowed to receive it and, for item events, the item
id; the consumer drops what its user may not see, so nobody outside the meeting's participants
(or below an item's classification) receives anything about it.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils import timezone


def meeting_group(meeting_id: int) -> str:
    return f"meeting.{meeting_id}"


def publish(meeting_id: int, kind: str, data: dict[str, Any], *, min_level: int, item_id: int | None = None) -> None:
    """Queue one event for the meeting's group; it is sent only if the transaction commits."""
    message = {
        "type": "meeting.event",
        "min_level": min_level,
        "item_id": item_id,
        "event": {"kind": kind, "meeting": meeting_id, "item": item_id, "at": timezone.now().isoformat(), "data": data},
    }

    def send() -> None:
        layer = get_channel_layer()
        if layer is not None:
            async_to_sync(layer.group_send)(meeting_group(meeting_id), message)

    # Robust: the change is committed whatever happens to its announcement; a client that missed
    # an event gets the current state when it (re)connects.
    transaction.on_commit(send, robust=True)
