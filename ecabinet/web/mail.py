"""SMTP e-mail configured by one URL: ``ECABINET_SMTP_URL``.

``smtp://user:password@host:25`` (plain), ``smtp+starttls://…:587`` (STARTTLS) and
``smtps://…:465`` (implicit TLS). User and password are percent-decoded. Everything else is
Django's own SMTP backend.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.mail.backends.smtp import EmailBackend

DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


def parse_smtp_url(url: str) -> dict[str, Any]:
    """The keyword arguments of Django's SMTP backend for one ``smtp…://`` URL."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ValueError(f"unsupported SMTP URL scheme {scheme!r}; use smtp, smtp+starttls or smtps")
    if not parts.hostname:
        raise ValueError("the SMTP URL names no host")
    return {
        "host": parts.hostname,
        "port": parts.port or DEFAULT_PORTS[scheme],
        "username": unquote(parts.username) if parts.username else "",
        "password": unquote(parts.password) if parts.password else "",
        "use_tls": scheme == "smtp+starttls",
        "use_ssl": scheme == "smtps",
    }


class SmtpUrlBackend(EmailBackend):
    def __init__(self, fail_silently: bool = False, **kwargs: Any) -> None:
        options = parse_smtp_url(str(getattr(settings, "SMTP_URL", "") or ""))
        options.update(kwargs)
        options.setdefault("timeout", 30)
        super().__init__(fail_silently=fail_silently, **options)
