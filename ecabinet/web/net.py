"""Where a request came from, honouring only as many proxies as the operator says are trusted."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    return client_ip_from(request.META.get("REMOTE_ADDR") or None, request.META.get("HTTP_X_FORWARDED_FOR", ""))


def client_ip_from(remote: str | None, forwarded_for: str) -> str | None:
    """``client_ip`` from the peer address and the X-Forwarded-For header (for an ASGI scope)."""
    hops = settings.TRUSTED_PROXY_COUNT
    if hops:
        forwarded = [part.strip() for part in forwarded_for.split(",") if part.strip()]
        if len(forwarded) >= hops:
            remote = forwarded[-hops]
    if remote is None:
        return None
    try:
        return str(ipaddress.ip_address(remote))
    except ValueError:
        return None
