"""Audit log endpoints (security officer)."""

from __future__ import annotations

from ninja import Router

from ecabinet.identity.auth import session_or_token

router = Router(auth=session_or_token, tags=["audit"])
