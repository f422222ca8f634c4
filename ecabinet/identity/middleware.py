"""Session policy: idle timeout and absolute lifetime, checked on every request."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from ecabinet.identity import actions
from ecabinet.identity.models import UserSession
from ecabinet.web.net import client_ip

# Write the "last seen" stamp at most this often, so reading does not become writing.
TOUCH_SECONDS = 60


class SessionPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            session = request.session
            now = int(time.time())
            login_at = session.get(actions.SESSION_LOGIN_AT, 0)
            seen_at = session.get(actions.SESSION_SEEN_AT, 0)
            reason = None
            if now - login_at > settings.SESSION_MAX_SECONDS:
                reason = "absolute_lifetime"
            elif now - seen_at > settings.SESSION_IDLE_SECONDS:
                reason = "idle"
            if reason:
                actions.expire_session(request, reason=reason, source_ip=client_ip(request))
                request.user = AnonymousUser()
                request.session_expired = True  # type: ignore[attr-defined]
            elif now - seen_at >= TOUCH_SECONDS:
                session[actions.SESSION_SEEN_AT] = now
                UserSession.objects.filter(session_key=session.session_key).update(last_seen_at=timezone.now())
        return self.get_response(request)
