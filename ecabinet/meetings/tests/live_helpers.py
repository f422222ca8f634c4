"""Helpers shared by the live-session tests (test_live_*.py, test_consumer*.py)."""

from __future__ import annotations

import json
import time
from typing import Any

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
