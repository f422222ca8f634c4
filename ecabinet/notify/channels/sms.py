"""SMS through a pluggable gateway: a console adapter by default, an HTTP gateway when
``ECABINET_SMS_URL`` is set (the request body from ``ECABINET_SMS_TEMPLATE``).

SMS is for urgent events and sign-in alerts only (``core.selection``) and carries a short label,
never a title.
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from typing import Protocol

from django.conf import settings

from ecabinet.notify.channels.base import PermanentError, TransientError
from ecabinet.notify.core import smsformat

log = logging.getLogger(__name__)


class Gateway(Protocol):
    def send(self, to: str, text: str) -> str: ...


class ConsoleGateway:
    sent: list[tuple[str, str]] = []

    def send(self, to: str, text: str) -> str:
        log.warning("SMS to %s: %s", to, text)
        ConsoleGateway.sent.append((to, text))
        return "console"


class HttpGateway:
    def __init__(self, url: str, template: str, *, timeout: float = 15.0) -> None:
        self.url, self.template, self.timeout = url, template, timeout
        self.form = not template.lstrip().startswith("{")

    def send(self, to: str, text: str) -> str:
        body = smsformat.fill(self.template, to=to, text=text, form=self.form).encode()
        content_type = "application/x-www-form-urlencoded" if self.form else "application/json"
        request = urllib.request.Request(self.url, data=body, method="POST", headers={"Content-Type": content_type})  # noqa: S310 - URL from settings
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return f"http {response.status}"
        except urllib.error.HTTPError as exc:
            if exc.code >= 500 or exc.code == 429:
                raise TransientError(f"sms gateway {exc.code}")
            raise PermanentError(f"sms gateway {exc.code}")
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
            raise TransientError(f"sms gateway unreachable: {exc}"[:300])


def gateway() -> Gateway:
    if settings.SMS_URL:
        return HttpGateway(settings.SMS_URL, settings.SMS_TEMPLATE)
    return ConsoleGateway()
