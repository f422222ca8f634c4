"""The live WebSocket in-process: who may open it, and what it relays.

The connection does not pass through Django's middleware, so the consumer itself must refuse a
session that has not passed the second factor or has outlived its limits.
"""

from __future__ import annotations

import sys
import time
import types
from pathlib import Path
from typing import Any

import channels
import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings

# channels.testing's __init__ also imports its live-server test case, which needs daphne, a second
# ASGI server with Twisted behind it that e-Cabinet does not use (uvicorn serves it, and
# test_serve.py drives the real server). Registering the package without running that __init__
# lets the genuine WebsocketCommunicator module import on its own.
if "channels.testing" not in sys.modules:
    _testing = types.ModuleType("channels.testing")
    _testing.__path__ = [str(Path(channels.__file__).parent / "testing")]
    sys.modules["channels.testing"] = _testing
from channels.testing.websocket import WebsocketCommunicator
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client

from ecabinet.asgi import application
from ecabinet.identity import actions
from ecabinet.identity.models import Role, User
from ecabinet.web.consumers import CLOSE_UNAUTHENTICATED, user_group

pytestmark = pytest.mark.django_db(transaction=True)


def converse(cookie: str | None, *, origin: str = "http://testserver", steps: Any = None) -> dict[str, Any]:
    """Open /ws/live/, read what the server says first, optionally run ``steps``, then close."""

    async def go() -> dict[str, Any]:
        headers = [(b"host", b"testserver"), (b"origin", origin.encode())]
        if cookie:
            headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()))
        comm = WebsocketCommunicator(application, "/ws/live/", headers=headers)
        connected, refused_code = await comm.connect(timeout=10)
        result: dict[str, Any] = {"accepted": connected, "refused_code": refused_code}
        if connected:
            first = await comm.receive_output(timeout=10)
            result["first"] = first
            if first["type"] == "websocket.send" and steps is not None:
                result["steps"] = await steps(comm)
            await comm.disconnect()
        return result

    return async_to_sync(go)()


def closed_with(result: dict[str, Any]) -> int | None:
    first = result.get("first") or {}
    return first.get("code") if first.get("type") == "websocket.close" else None


def session_for(user: User, **fields: Any) -> str:
    """A stored session signed in as ``user``, with the policy stamps a real sign-in writes."""
    now = int(time.time())
    store = SessionStore()
    store["_auth_user_id"] = str(user.pk)
    store["_auth_user_backend"] = settings.AUTHENTICATION_BACKENDS[0]
    store["_auth_user_hash"] = user.get_session_auth_hash()
    store[actions.SESSION_LOGIN_AT] = now
    store[actions.SESSION_SEEN_AT] = now
    for key, value in fields.items():
        store[key] = value
    store.create()
    assert store.session_key
    return store.session_key


def test_anonymous_is_closed_with_4401() -> None:
    result = converse(None)
    assert result["accepted"] and closed_with(result) == CLOSE_UNAUTHENTICATED == 4401


def test_unknown_session_cookie_is_closed_with_4401() -> None:
    assert closed_with(converse("not-a-session")) == 4401


def test_member_signed_in_through_both_steps_gets_hello(make_user: Any, login_client: Any) -> None:
    user = make_user(Role.MEMBER)
    client: Client = login_client(user)
    result = converse(client.cookies[settings.SESSION_COOKIE_NAME].value)
    assert result["first"]["type"] == "websocket.send"
    assert result["first"]["text"] == f'{{"type": "hello", "user": {user.pk}}}'


def test_session_without_second_factor_is_refused(make_user: Any) -> None:
    """Authenticated in Django's sense, but `ecab_mfa` was never set: the password step alone."""
    user = make_user(Role.MEMBER)
    assert closed_with(converse(session_for(user))) == 4401
    assert closed_with(converse(session_for(user, **{actions.SESSION_MFA: False}))) == 4401
    # The same session with the second factor passed is let in: the refusal is about the factor.
    accepted = converse(session_for(user, **{actions.SESSION_MFA: True}))
    assert accepted["first"]["type"] == "websocket.send"


def test_guest_needs_no_second_factor(make_user: Any) -> None:
    guest = make_user(Role.GUEST, mfa=False)
    assert guest.mfa_required is False
    result = converse(session_for(guest, **{actions.SESSION_MFA: False}))
    assert result["first"]["type"] == "websocket.send"


def test_idle_or_too_old_session_is_refused(make_user: Any) -> None:
    user = make_user(Role.MEMBER)
    long_ago = int(time.time()) - settings.SESSION_MAX_SECONDS - 60
    idle_since = int(time.time()) - settings.SESSION_IDLE_SECONDS - 60
    assert closed_with(converse(session_for(user, **{actions.SESSION_MFA: True, actions.SESSION_LOGIN_AT: long_ago}))) == 4401
    assert closed_with(converse(session_for(user, **{actions.SESSION_MFA: True, actions.SESSION_SEEN_AT: idle_since}))) == 4401


def test_disabled_user_is_refused(make_user: Any) -> None:
    user = make_user(Role.MEMBER)
    key = session_for(user, **{actions.SESSION_MFA: True})
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert closed_with(converse(key)) == 4401


def test_foreign_origin_is_refused_before_the_handshake(make_user: Any) -> None:
    user = make_user(Role.MEMBER)
    result = converse(session_for(user, **{actions.SESSION_MFA: True}), origin="https://evil.example")
    assert result["accepted"] is False


def test_ping_and_events_sent_to_the_users_group(make_user: Any) -> None:
    user = make_user(Role.SECRETARY)
    other = make_user(Role.MEMBER)

    async def steps(comm: WebsocketCommunicator) -> list[Any]:
        await comm.send_json_to({"type": "ping"})
        pong = await comm.receive_json_from(timeout=10)
        layer = get_channel_layer()
        await layer.group_send(user_group(other.pk), {"type": "live.event", "event": {"type": "not.for.you"}})
        await layer.group_send(user_group(user.pk), {"type": "live.event", "event": {"type": "agenda.changed", "meeting": 7}})
        event = await comm.receive_json_from(timeout=10)
        nothing_more = await comm.receive_nothing(timeout=0.2)
        return [pong, event, nothing_more]

    result = converse(session_for(user, **{actions.SESSION_MFA: True}), steps=steps)
    assert result["steps"] == [{"type": "pong"}, {"type": "agenda.changed", "meeting": 7}, True]
