"""API authentication: the browser's session cookie (with CSRF) or a device's bearer token."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer, SessionAuth

from ecabinet import errors as base_errors
from ecabinet.identity import actions, errors
from ecabinet.identity.models import User
from ecabinet.web.net import client_ip


class BrowserSession(SessionAuth):
    """The signed-in browser; the session policy middleware has already checked its age."""

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        if getattr(request, "session_expired", False):
            raise errors.SessionExpired()
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_active:
            if user.mfa_required and not request.session.get(actions.SESSION_MFA):
                return None
            return user
        return None


class DeviceToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = actions.user_for_token(token, source_ip=client_ip(request))
        if user is None:
            # A client that sends a bearer token is a device: tell it plainly to sign in again.
            raise errors.TokenInvalid()
        request.user = user
        return user


session_or_token = [DeviceToken(), BrowserSession()]


def api_user(request: HttpRequest) -> User:
    """The user Ninja authenticated for this request (``request.auth``), typed.

    Only for handlers behind ``session_or_token``: both authenticators return a ``User`` or let
    Ninja answer 401 before the handler runs, so anything else here is a wiring mistake.
    """
    user = getattr(request, "auth", None)  # set by Ninja at run time; HttpRequest's type does not know it
    if not isinstance(user, User):
        raise base_errors.NotAuthenticated()
    return user
