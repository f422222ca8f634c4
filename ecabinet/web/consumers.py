"""The live channel every tablet page opens. Later apps send events to a user's group here."""

from __future__ import annotations

import time
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from ecabinet.identity import actions
from ecabinet.web import metrics

# Close codes in the 4000–4999 range are the application's own. 4401 mirrors HTTP 401: the page
# should send the person to the sign-in page rather than reconnect.
CLOSE_UNAUTHENTICATED = 4401


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def session_refusal(user: Any, session: Any) -> str | None:
    """Why this connection may not open, or None. Runs the checks the HTTP side runs per request.

    A WebSocket does not pass through Django's middleware, so the second factor and the session
    lifetimes (``SessionPolicyMiddleware``) are checked here again; otherwise a browser that has
    only passed the password step, or whose session has expired, could still listen.
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return "anonymous"
    if session is None:
        return "no_session"
    if getattr(user, "mfa_required", True) and not session.get(actions.SESSION_MFA):
        return "second_factor"
    now = int(time.time())
    if now - session.get(actions.SESSION_LOGIN_AT, 0) > settings.SESSION_MAX_SECONDS:
        return "absolute_lifetime"
    if now - session.get(actions.SESSION_SEEN_AT, 0) > settings.SESSION_IDLE_SECONDS:
        return "idle"
    return None


class LiveConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        # Reading the session loads it from the database: not allowed on the event loop.
        refusal = await database_sync_to_async(session_refusal)(user, self.scope.get("session"))
        if refusal is not None:
            # Accept, then close with our own code: a refusal before the handshake reaches the
            # browser as a bare HTTP 403, which a page cannot tell apart from a network failure.
            await self.accept()
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        assert user is not None
        self.groups_joined = [user_group(user.pk)]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        metrics.WS_CONNECTIONS.inc()
        await self.accept()
        await self.send_json({"type": "hello", "user": user.pk})

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def live_event(self, message: dict[str, Any]) -> None:
        """Relay ``{"type": "live.event", "event": {...}}`` sent to one of this client's groups."""
        await self.send_json(message["event"])
