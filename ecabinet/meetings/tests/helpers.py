"""Small helpers for meetings API tests (the auth helpers come from identity's tests)."""

from __future__ import annotations

import json
import time
from typing import Any

from django.test import Client

from ecabinet.audit.models import AuditEntry
from ecabinet.identity.actions import SESSION_LOGIN_AT, SESSION_MFA, SESSION_SEEN_AT
from ecabinet.identity.tests.test_api_auth import assert_problem, bearer, get_token, post_json

__all__ = ["api_client", "assert_problem", "audit_count", "bearer", "get_token", "patch_json", "post_json", "put_json", "signed_in", "token_client"]


class TokenClient(Client):
    """A test client that sends a device's bearer token with every request."""

    def __init__(self, token: str) -> None:
        super().__init__(HTTP_AUTHORIZATION=f"Bearer {token}")


def signed_in(user: Any) -> Client:
    """A browser client past both sign-in steps, without the slow password hash: for API and pages.

    The real two-step sign-in and the bearer tokens are proven in identity's tests; here we only
    need a signed-in caller, and a test file that also proves bearer tokens work uses ``token_client``.
    """
    client = Client()
    client.force_login(user)
    session = client.session
    now = int(time.time())
    session[SESSION_LOGIN_AT] = now
    session[SESSION_SEEN_AT] = now
    session[SESSION_MFA] = True
    session.save()
    return client


def api_client(user: Any) -> Client:
    return signed_in(user)


def token_client(user: Any) -> TokenClient:
    return TokenClient(get_token(user)["token"])


def patch_json(client: Client, path: str, body: object, **extra: str) -> Any:
    return client.patch(path, data=json.dumps(body), content_type="application/json", **extra)


def put_json(client: Client, path: str, body: object, **extra: str) -> Any:
    return client.put(path, data=json.dumps(body), content_type="application/json", **extra)


def audit_count(event: str, **filters: Any) -> int:
    return AuditEntry.objects.filter(event=event, **filters).count()
