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
status). From there on the same ``actions.cast_ballot`` as the Ninja view decides, and its refusals
are answered as the API's exception handler answers them. So the behaviour is the API's; this only
skips the parts of the path that a device ballot does not use (sessions, CSRF, locale, messages).

The work runs in a small pool of threads (``BALLOT_THREADS``), each with its own database
connection; ballots from all of them are written in groups (``actions._writer``). The response
carries the same security headers as Django's, and the request is counted in /metrics under the
same route.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections
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
BALLOT_THREADS = 8  # at most; each holds a database connection while it works (see ballot_threads)

_FALLBACK = object()  # "let Django answer this one"


class BallotFrontDoor:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._executor: ThreadPoolExecutor | None = None

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
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=ballot_threads(), thread_name_prefix="ballot")
        outcome = await sync_to_async(_serve, thread_sensitive=False, executor=self._executor)(int(match.group(1)), token, body, source_ip, scope["path"])
        if outcome is _FALLBACK:
            await self.app(scope, _replay(body, more, receive), send)
            return
        status, content_type, payload = outcome
        await send({"type": "http.response.start", "status": status, "headers": _response_headers(scope, content_type, len(payload))})
        await send({"type": "http.response.body", "body": payload})
        metrics.observe_request("POST", ROUTE, status, time.perf_counter() - started)


def ballot_threads() -> int:
    """Eight threads make groups of about four ballots in a burst; more did not raise throughput.
    With a connection pool, at most half of it, so Django's requests still find connections."""
    pool = int(getattr(settings, "DB_POOL_SIZE", 0) or 0)
    return max(1, min(BALLOT_THREADS, pool // 2)) if pool else BALLOT_THREADS


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


def _serve(poll_id: int, token: str, body: bytes, source_ip: str | None, path: str) -> Any:
    """In a ballot thread: ``_FALLBACK`` or (status, content type, body)."""
    close_old_connections()
    try:
        return _cast(poll_id, token, body, source_ip, path)
    except base_errors.ECabinetError as exc:
        return _answer(exc.status, exc.as_problem(instance=path), problem=True)
    except Exception:
        log.exception("unhandled API error on %s", path)
        return _answer(500, base_errors.ServerError("An unexpected error occurred; it has been logged.").as_problem(instance=path), problem=True)
    finally:
        close_old_connections()


def _cast(poll_id: int, token: str, body: bytes, source_ip: str | None, path: str) -> Any:
    from ecabinet.voting import actions, permissions
    from ecabinet.voting.api import BallotIn, ReceiptOut

    try:
        payload = BallotIn.model_validate_json(body)
    except ValidationError:
        return _FALLBACK
    # One statement: the token's user, and the poll with whether that user is its voter.
    user, row = identity_actions.user_and_more_for_token(token, source_ip=source_ip, record_rejection=False, also=permissions.ballot_poll_read(poll_id))
    if user is None:  # Django answers a bad token, and records it
        return _FALLBACK
    poll = permissions.poll_for_cleared_voter(user, row)
    if poll is None:
        return _FALLBACK
    ballot = actions.cast_ballot(
        poll, ballot=payload.ballot, signature=payload.signature, cms=payload.cms, totp=payload.totp, acting_user=user, source_ip=source_ip
    )
    return _answer(201, ReceiptOut.model_validate(actions.receipt_for(ballot, just_stored=True)).model_dump())


def _answer(status: int, data: dict[str, Any], *, problem: bool = False) -> tuple[int, str, bytes]:
    from ecabinet.api import api

    payload = api.renderer.render(None, data, response_status=status)  # type: ignore[arg-type]  # the JSON renderer does not read the request
    return status, "application/problem+json" if problem else "application/json; charset=utf-8", payload.encode() if isinstance(payload, str) else payload
