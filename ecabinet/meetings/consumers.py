"""The live channel of one meeting: ``ws/meetings/<id>/``.

On connect the client gets the whole current state (a snapshot), then every event of the meeting
it may see. A reconnecting client gets a fresh snapshot, never a replay. Events are filtered here,
per connection: an event above the user's clearance, or about an item the user may not see, is
dropped, so nobody outside the meeting (or below an item's classification) receives it.

Close codes: 4401 not signed in (or the second factor not passed, or the session too old);
4404 no such meeting as far as this user is concerned (it may exist: we do not say).
"""

from __future__ import annotations

import time
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from ecabinet.identity import actions as identity_actions
from ecabinet.identity.permissions import is_signed_in
from ecabinet.meetings import live, permissions
from ecabinet.meetings.broadcast import meeting_group
from ecabinet.meetings.models import Meeting
from ecabinet.web import metrics

CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404
# Events after which what a user may see can have changed: items accepted, reclassified or given
# guests, participants added or removed, the meeting itself edited.
REFRESH_KINDS = (live.AGENDA, "participants.", "meeting.updated", "item.updated")


def session_ok(user: Any, session: Any) -> bool:
    """The same bar as the API's session auth: signed in, active, MFA passed, session not too old."""
    if not is_signed_in(user):
        return False
    if session is None:
        return False
    if user.mfa_required and not session.get(identity_actions.SESSION_MFA):
        return False
    now = int(time.time())
    login_at = session.get(identity_actions.SESSION_LOGIN_AT, 0)
    seen_at = session.get(identity_actions.SESSION_SEEN_AT, 0)
    return now - login_at <= settings.SESSION_MAX_SECONDS and now - seen_at <= settings.SESSION_IDLE_SECONDS


class MeetingConsumer(AsyncJsonWebsocketConsumer):
    meeting_id: int
    user: Any
    clearance: int
    visible_items: frozenset[int]
    joined: bool = False

    async def connect(self) -> None:
        self.meeting_id = int(self.scope["url_route"]["kwargs"]["meeting_id"])
        self.user = self.scope.get("user")
        admitted, first = await database_sync_to_async(self._admit)()
        await self.accept()
        if admitted is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if not admitted:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        # Join before sending the snapshot so no event between the two is lost; an event that
        # raced the snapshot is idempotent (each carries the whole state of its piece).
        await self.channel_layer.group_add(meeting_group(self.meeting_id), self.channel_name)
        self.joined = True
        metrics.WS_CONNECTIONS.inc()
        await self.send_json(first)

    def _admit(self) -> tuple[bool | None, dict[str, Any] | None]:
        """None: not signed in; False: not visible; True with the snapshot otherwise."""
        session = self.scope.get("session")
        if not session_ok(self.user, session):
            return None, None
        meeting = Meeting.objects.select_related("organisation").filter(pk=self.meeting_id).first()
        if meeting is None or not permissions.can_see_meeting(self.user, meeting):
            return False, None
        self.clearance = self.user.clearance
        snap = live.snapshot(meeting, self.user)
        self.visible_items = frozenset(item["id"] for item in snap["items"])
        return True, snap

    def _refresh_visibility(self) -> bool:
        """Recompute the visible items after an agenda change; False if the meeting is gone for us."""
        self.user.refresh_from_db(fields=["clearance", "is_active", "role", "organisation"])
        meeting = Meeting.objects.filter(pk=self.meeting_id).first()
        if meeting is None or not permissions.can_see_meeting(self.user, meeting):
            return False
        self.clearance = self.user.clearance
        self.visible_items = frozenset(item.pk for item in permissions.visible_items_at_once(self.user, meeting))
        return True

    async def disconnect(self, code: int) -> None:
        if self.joined:
            self.joined = False
            await self.channel_layer.group_discard(meeting_group(self.meeting_id), self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not self.joined or not isinstance(content, dict):
            return
        if content.get("type") == "ping":
            await self.send_json({"type": "pong"})
        elif content.get("type") == "snapshot":
            snap = await database_sync_to_async(self._snapshot)()
            if snap is None:
                await self.close(code=CLOSE_NOT_FOUND)
            else:
                await self.send_json(snap)

    def _snapshot(self) -> dict[str, Any] | None:
        if not self._refresh_visibility():
            return None
        return live.snapshot(Meeting.objects.get(pk=self.meeting_id), self.user)

    async def dispatch(self, message: dict[str, Any]) -> None:
        # channels closes stale database connections before every handler, a trip to the one
        # thread that runs sync code; relaying an event needs no database (a refresh goes through
        # database_sync_to_async, which does its own), and with a thousand tablets on one meeting
        # those trips queue up behind each other.
        if message.get("type") == "meeting.event":
            await self.meeting_event(message)
        else:
            await super().dispatch(message)

    async def meeting_event(self, message: dict[str, Any]) -> None:
        event = message["event"]
        if str(event.get("kind", "")).startswith(REFRESH_KINDS):
            still_visible = await database_sync_to_async(self._refresh_visibility)()
            if not still_visible:
                await self.close(code=CLOSE_NOT_FOUND)
                return
        if message.get("min_level", 0) > self.clearance:
            return
        item_id = message.get("item_id")
        if item_id is not None and item_id not in self.visible_items:
            return
        await self.send_json({"type": "event", **event})
