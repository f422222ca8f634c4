"""Fixtures for notify tests: the meetings cabinet, a real SMTP server (aiosmtpd) on a free port,
and local HTTP servers standing in for a push service and an SMS gateway."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from ecabinet.meetings.tests.conftest import Cabinet, cabinet, fast_password_hashing  # noqa: F401 - fixtures
from ecabinet.pki.tests.conftest import enrolled, installation_ca, pki_settings  # noqa: F401 - fixtures
from ecabinet.voting.tests.conftest import item_poll, voting  # noqa: F401 - fixtures


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Inbox:
    messages: list[Message] = field(default_factory=list)
    refuse: int | None = None  # answer DATA with this code
    drop: int = 0  # close the connection at DATA this many times

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if address in m["To"]]


class Handler:
    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.inbox.drop > 0:
            self.inbox.drop -= 1
            server.transport.close()  # the server disappears mid-send
            return "421 gone"
        if self.inbox.refuse:
            return f"{self.inbox.refuse} 5.7.1 refused by policy"
        self.inbox.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp(settings: Any) -> Iterator[Inbox]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(Handler(inbox), hostname="127.0.0.1", port=port)
    controller.start()
    settings.SMTP_URL = f"smtp://127.0.0.1:{port}"
    settings.EMAIL_BACKEND = "ecabinet.web.mail.SmtpUrlBackend"
    try:
        yield inbox
    finally:
        controller.stop()


@dataclass
class HttpSink:
    url: str
    requests: list[tuple[str, dict[str, str], bytes]]
    status: list[int]


@pytest.fixture
def http_sink() -> Iterator[Callable[..., HttpSink]]:
    servers: list[ThreadingHTTPServer] = []

    def start(status: int = 201, check: Callable[[dict[str, str], bytes], None] | None = None) -> HttpSink:
        sink = HttpSink(url="", requests=[], status=[status])

        class H(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                sink.requests.append((self.path, headers, body))
                code = sink.status[0]
                if check is not None and code < 300:
                    try:
                        check(headers, body)
                    except Exception:
                        code = 400
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        sink.url = f"http://127.0.0.1:{server.server_address[1]}"
        return sink

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def addresses() -> Iterator[None]:
    """Every test user gets a deliverable address (the identity factory leaves it empty)."""
    from django.db.models.signals import pre_save

    from ecabinet.identity.models import User

    def give(sender: Any, instance: Any, **kwargs: Any) -> None:
        if not instance.email and not instance.pk:
            instance.email = f"{instance.username}@gov.example"

    pre_save.connect(give, sender=User, dispatch_uid="notify-test-addresses")
    yield
    pre_save.disconnect(sender=User, dispatch_uid="notify-test-addresses")
