"""Helpers shared by the live-session tests (test_live_*.py, test_consumer*.py)."""

from __future__ import annotations

import json
import time
from typing import Any

from asgiref.testing import ApplicationCommunicator
from django.test import Client
from django.utils import timezone

from ecabinet.identity import actions as identity_actions
from ecabinet.meetings.models import Meeting


def open_session(meeting: Meeting) -> Meeting:
    """Put a meeting in session (lifecycle actions are tested elsewhere; here they are set-up)."""
    Meeting.objects.filter(pk=meeting.pk).update(state=Meeting.State.IN_SESSION, opened_at=timezone.now())
    meeting.refresh_from_db()
    return meeting


def signed_in(user: Any, *, mfa: bool = True) -> Client:
    """A browser client with a session as the two-step sign-in leaves it (that path is tested in identity)."""
    client = Client()
    client.force_login(user)
    session = client.session
    now = int(time.time())
    session[identity_actions.SESSION_MFA] = mfa
    session[identity_actions.SESSION_LOGIN_AT] = now
    session[identity_actions.SESSION_SEEN_AT] = now
    session.save()
    return client


def post(client: Client, path: str, body: Any = None) -> Any:
    if body is None:
        return client.post(path, data="", content_type="application/json")
    return client.post(path, data=json.dumps(body), content_type="application/json")


def base(meeting: Meeting) -> str:
    return f"/api/v1/meetings/{meeting.pk}"


class WebsocketClient(ApplicationCommunicator):
    """channels' WebsocketCommunicator, minus the import of daphne that ``channels.testing`` makes
    (daphne is not a dependency here): drives an ASGI app through one WebSocket connection."""

    def __init__(self, application: Any, path: str, headers: list[tuple[bytes, bytes]]) -> None:
        scope = {
            "type": "websocket",
            "path": path,
            "query_string": b"",
            "headers": headers,
            "subprotocols": [],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        super().__init__(application, scope)

    async def connect(self, timeout: float = 5) -> tuple[bool, int | None]:
        await self.send_input({"type": "websocket.connect"})
        response = await self.receive_output(timeout)
        if response["type"] == "websocket.close":
            return False, response.get("code", 1000)
        return True, None

    async def send_json_to(self, data: Any) -> None:
        await self.send_input({"type": "websocket.receive", "text": json.dumps(data)})

    async def receive_json_from(self, timeout: float = 5) -> Any:
        response = await self.receive_output(timeout)
        assert response["type"] == "websocket.send", response
        return json.loads(response["text"])

    async def disconnect(self, code: int = 1000, timeout: float = 5) -> None:
        await self.send_input({"type": "websocket.disconnect", "code": code})
        await self.wait(timeout)
