from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest


class ThrottledModelBackend(ModelBackend):
    """Django's password backend; throttling and MFA happen in ``identity.actions`` around it.

    ModelBackend already hashes a dummy password for unknown names, which keeps the timing of
    unknown and known users alike.
    """

    def authenticate(self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any) -> Any:
        if not username or not password or len(password) > 1024:
            # Still do the hashing work, so the answer takes as long as for a real attempt.
            self.user_can_authenticate(None)
            from django.contrib.auth import get_user_model

            get_user_model()().set_password(password or "-")
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
