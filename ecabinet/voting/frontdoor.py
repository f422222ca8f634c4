"""``POST /api/v1/polls/{id}/ballots`` from a device (bearer token), served straight from ASGI.

In a vote every member casts within the same minute, and Django's request machinery (the ASGI
handler, thirteen middlewares, Ninja's routing and parsing, the hops between the event loop and
request threads) cost several times the ballot's own work: the signature, certificate and step-up
checks and the audited insert. This front door answers the one request that comes in bursts with
only what it needs, and hands every other request, unchanged, to Django.

It takes a request only when it is a well-formed device ballot: a bearer token, a JSON body within
the size limit that parses as the ballot schema, a live token, and a poll the token's user is a
cleared voter of. Anything else, before any step has changed anything, goes to Django with the body
it has read, and Django answers it exactly as it always has (the same problem, audit entry and
status). From there on the same ``actions.cast_ballots`` as the Ninja view decides (its
``cast_ballot`` is a batch of one), and its refusals are answered as the API's exception handler
answers them. So the behaviour is the API's; this only
skips the parts of the path that a device ballot does not use (sessions, CSRF, locale, messages).

The requests queue as they arrive and one thread per server process (``_Batcher``) takes them in
batches, with its own database connection: it reads the tokens, polls and voters of its whole
batch with one statement, checks every ballot (``actions.cast_ballots``, which reads the
certificates and throttle rows of the batch with one more) and writes them in one group. A batch is
whatever queued while the previous one was worked on, so a lone ballot is answered at once and a
burst is taken in large batches. Eight threads taking one request each spent more than half the
server's time handing the interpreter lock between them and going to the database one statement per
ballot at a time; two threads taking batches still spent a fifth more CPU per ballot than one, in
smaller groups (while one waits for the database, the requests that arrive make the next batch
larger instead). The response carries the same security headers as Django's, and the request is
counted in /metrics under the same route.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection
from pydantic import ValidationError

from ecabinet import errors as base_errors
from ecabinet.identity import actions as identity_actions
from ecabinet.web import metrics
from ecabinet.web.net import client_ip_from

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PATH = re.compile(r"/api/v1/polls/([0-9]{1,18})/ballots")
ROUTE = "api/v1/polls/<int:poll_id>/ballots"  # the label Django's URL pattern gives it in /metrics
BALLOT_THREADS = 1  # threads taking batches; each holds a database connection while it works
MAX_BATCH = 64  # requests a thread takes at once

_FALLBACK = object()  # "let Django answer this one"


class BallotFrontDoor:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._batcher: _Batcher | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope.get("root_path") or not (match := PATH.fullmatch(scope["path"])):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        token = _bearer(headers.get("authorization", ""))
        length = headers.get("content-length", "")
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        if token is None or ctype != "application/json" or not length.isdigit() or not 0 < int(length) <= settings.MAX_BODY_BYTES:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        body, more = await _read_body(receive, int(length))
        if body is None:  # the client went away
            return
        if more:  # more than it announced: Django reads it and answers as it always has
            await self.app(scope, _replay(body, more, receive), send)
            return
        forwarded = headers.get("x-forwarded-for", "")
        source_ip = client_ip_from((scope.get("client") or (None,))[0], forwarded)
        if self._batcher is None:
            self._batcher = _Batcher(BALLOT_THREADS)
        outcome = await self._batcher.submit(_Request(int(match.group(1)), token, body, source_ip, scope["path"]))
        if outcome is _FALLBACK:
            await self.app(scope, _replay(body, more, receive), send)
            return
        status, content_type, payload = outcome
        await send({"type": "http.response.start", "status": status, "headers": _response_headers(scope, content_type, len(payload))})
        await send({"type": "http.response.body", "body": payload})
        metrics.observe_request("POST", ROUTE, status, time.perf_counter() - started)


@dataclass
class _Request:
    poll_id: int
    token: str
    body: bytes
    source_ip: str | None
    path: str
    answer: asyncio.Future[Any] | None = field(default=None, repr=False)


class _Batcher:
    """A queue of ballot requests and at most ``threads`` threads taking batches from it.

    ``submit`` (on the event loop) queues a request and starts a thread if fewer than that are at
    work; a thread takes up to ``MAX_BATCH`` requests at a time and stops when it finds the queue
    empty. Each answer goes back to the event loop with one callback per batch."""

    def __init__(self, threads: int) -> None:
        self._lock = threading.Lock()
        self._queue: deque[_Request] = deque()
        self._working = 0
        self._threads = threads
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="ballot")

    def submit(self, request: _Request) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        request.answer = loop.create_future()
        with self._lock:
            self._queue.append(request)
            start = self._working < self._threads
            if start:
                self._working += 1
        if start:
            self._executor.submit(self._drain, loop)
        return request.answer

    def _drain(self, loop: asyncio.AbstractEventLoop) -> None:
        # One database connection for the whole run of batches: the pool lends its idle connections
        # in turn, and statements are prepared per connection (after five uses), so a connection
        # taken afresh for each batch would rarely have them prepared. Given back when the queue is
        # empty, or at once after a batch that failed.
        _give_back_connection()
        try:
            while True:
                with self._lock:
                    if not self._queue:
                        self._working -= 1
                        return
                    batch = [self._queue.popleft() for _ in range(min(MAX_BATCH, len(self._queue)))]
                try:
                    outcomes = _serve(batch)
                except BaseException:  # _serve answers every failure itself; this is the last resort
                    log.exception("ballot batch failed")
                    outcomes = [_server_error(request.path) for request in batch]
                with contextlib.suppress(RuntimeError):  # the event loop has closed (shutdown): no one is waiting
                    loop.call_soon_threadsafe(_deliver, batch, outcomes)
        finally:
            _give_back_connection()


def _give_back_connection() -> None:
    """``close_old_connections`` that cannot stop a ballot thread: a thread that ended on an error
    here would leave the queue believing it still works, and ballots waiting for no one."""
    try:
        close_old_connections()
    except Exception:
        log.exception("could not give the ballot thread's database connection back")


def _deliver(batch: Sequence[_Request], outcomes: Sequence[Any]) -> None:
    for request, outcome in zip(batch, outcomes, strict=True):
        if request.answer is not None and not request.answer.done():
            request.answer.set_result(outcome)


def _headers(scope: Scope) -> dict[str, str]:
    return {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope.get("headers", ())}


def _bearer(value: str) -> str | None:
    scheme, _, token = value.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


async def _read_body(receive: Receive, length: int) -> tuple[bytes | None, bool]:
    """The body (at most ``length`` bytes are expected); None if the client disconnected. The flag
    says whether the client still claimed more than it announced (Django then reads the rest)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None, False
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), False
        if size >= length:
            return b"".join(chunks), True


def _replay(body: bytes, more: bool, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": more}
        return await receive()

    return replay


def _response_headers(scope: Scope, content_type: str, length: int) -> list[tuple[bytes, bytes]]:
    """What Django's SecurityMiddleware and XFrameOptionsMiddleware add to an API answer, from the
    same settings."""
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(length).encode())]
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        headers.append((b"x-content-type-options", b"nosniff"))
    if settings.SECURE_REFERRER_POLICY:
        headers.append((b"referrer-policy", str(settings.SECURE_REFERRER_POLICY).encode()))
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        headers.append((b"cross-origin-opener-policy", str(settings.SECURE_CROSS_ORIGIN_OPENER_POLICY).encode()))
    if settings.SECURE_HSTS_SECONDS and _is_secure(scope):
        value = f"max-age={settings.SECURE_HSTS_SECONDS}"
        if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
            value += "; includeSubDomains"
        if settings.SECURE_HSTS_PRELOAD:
            value += "; preload"
        headers.append((b"strict-transport-security", value.encode()))
    headers.append((b"x-frame-options", str(settings.X_FRAME_OPTIONS).upper().encode()))
    return headers


def _is_secure(scope: Scope) -> bool:
    if scope.get("scheme") == "https":
        return True
    proxy = settings.SECURE_PROXY_SSL_HEADER
    if proxy:
        header, value = proxy
        wanted = header.removeprefix("HTTP_").replace("_", "-").lower()
        return _headers(scope).get(wanted, "").split(",")[0].strip() == value
    return False


def _serve(batch: Sequence[_Request]) -> list[Any]:
    """In a ballot thread: for each request, ``_FALLBACK`` or (status, content type, body)."""
    try:
        return _cast(batch)
    except Exception:  # what the batch shares failed (its reads): every request gets the 500
        log.exception("unhandled API error on a batch of %d ballots", len(batch))
        connection.close()  # the next batch starts on a sound connection
        return [_server_error(request.path) for request in batch]


def _cast(batch: Sequence[_Request]) -> list[Any]:
    from ecabinet.voting import actions, permissions
    from ecabinet.voting.api import BallotIn

    outcomes: list[Any] = [_FALLBACK] * len(batch)
    payloads: dict[int, BallotIn] = {}
    for n, request in enumerate(batch):
        with contextlib.suppress(ValidationError):  # else Django answers it
            payloads[n] = BallotIn.model_validate_json(request.body)
    # One statement: each token's user, and the poll with whether that user is its voter.
    numbers = list(payloads)
    found = identity_actions.users_and_more_for_tokens(
        [(batch[n].token, batch[n].source_ip, permissions.ballot_poll_read(batch[n].poll_id)) for n in numbers], record_rejection=False
    )
    casting: list[tuple[int, actions.BallotRequest]] = []
    for n, (user, row) in zip(numbers, found, strict=True):
        # No live token (Django answers it, and records it), or not a cleared voter of the poll.
        poll = permissions.poll_for_cleared_voter(user, row) if user is not None else None
        if poll is not None and user is not None:
            p = payloads[n]
            cast = actions.BallotRequest(poll, user, p.ballot, signature=p.signature, cms=p.cms, totp=p.totp, source_ip=batch[n].source_ip)
            casting.append((n, cast))
    results = actions.cast_ballots([request for _, request in casting])
    for (n, _), result in zip(casting, results, strict=True):
        outcomes[n] = _outcome(result, batch[n].path)
    return outcomes


def _outcome(result: Any, path: str) -> tuple[int, str, bytes]:
    from ecabinet.voting import actions
    from ecabinet.voting.api import ReceiptOut

    if isinstance(result, base_errors.ECabinetError):
        return _answer(result.status, result.as_problem(instance=path), problem=True)
    if isinstance(result, Exception):
        log.error("unhandled API error on %s", path, exc_info=result)
        return _server_error(path)
    # The receipt's fields as ReceiptOut lists them (the Ninja view answers through it): its values
    # are the stored ballot's own columns, so validating them again would only cost the time.
    receipt = actions.receipt_for(result, just_stored=True)
    return _answer(201, {name: receipt[name] for name in ReceiptOut.model_fields})


def _server_error(path: str) -> tuple[int, str, bytes]:
    return _answer(500, base_errors.ServerError("An unexpected error occurred; it has been logged.").as_problem(instance=path), problem=True)


def _answer(status: int, data: dict[str, Any], *, problem: bool = False) -> tuple[int, str, bytes]:
    from ecabinet.api import api

    payload = api.renderer.render(None, data, response_status=status)  # type: ignore[arg-type]  # the JSON renderer does not read the request
    return status, "application/problem+json" if problem else "application/json; charset=utf-8", payload.encode() if isinstance(payload, str) else payload
