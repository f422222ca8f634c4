"""Live turnout of a meeting's poll, pushed after ballots commit: coalesced, never losing the last.

Counting a poll and publishing to every tablet of the meeting after each ballot costs two count
queries and a channel send per ballot, and in a burst most of those figures are stale before they
arrive. So each process pushes a poll's figures at most once per ``VOTE_PUSH_SECONDS``: the first
ballot after a quiet spell pushes at once; a ballot inside the window makes sure one push is due
at its end (one, however many ballots arrive meanwhile). A due push counts when it runs, after it
has been taken off the pending list, so every ballot committed before then is in its figure, and
a ballot committed after that finds no push pending and arranges the next one: the last ballot of
a burst is always in the last figure sent. A push finds a closed poll silent: the closing event
carries the tally.

The due push runs on the server's event loop when there is one (the channel layer's own loop);
elsewhere (a Celery task, a management command, tests) on a timer thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time

from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.db import close_old_connections, connection

log = logging.getLogger(__name__)

_lock = threading.Lock()
_last_push: dict[int, float] = {}  # poll id -> time.monotonic() of its last push from this process
_pending: set[int] = set()  # polls with a push due at the end of their window
_tasks: set[asyncio.Future[None]] = set()


def ballot_cast(poll_id: int) -> None:
    """After a ballot on ``poll_id`` committed: push now, or make sure a push is due soon."""
    interval = float(settings.VOTE_PUSH_SECONDS)
    if interval <= 0:
        push(poll_id)
        return
    with _lock:
        if poll_id in _pending:
            return  # the due push has not counted yet, so it will count this ballot
        now = time.monotonic()
        wait = _last_push.get(poll_id, float("-inf")) + interval - now
        if wait <= 0:
            _last_push[poll_id] = now
        else:
            _pending.add(poll_id)
    if wait <= 0:
        push(poll_id)
    else:
        _schedule(poll_id, wait)


def push(poll_id: int) -> None:
    """Count the poll now and publish the figures to its meeting (nothing for a closed poll)."""
    from ecabinet.voting.actions import live_results, publish_live
    from ecabinet.voting.events import LIVE_BALLOT
    from ecabinet.voting.models import Poll

    poll = Poll.objects.filter(pk=poll_id, state=Poll.State.OPEN).first()
    if poll is None or poll.meeting_id is None:
        return
    publish_live(poll, LIVE_BALLOT, live_results(poll, public_only=True))


def _due(poll_id: int) -> None:
    with _lock:
        _pending.discard(poll_id)
        _last_push[poll_id] = time.monotonic()
    try:
        push(poll_id)
    except Exception:  # an announcement; the ballots are committed whatever happens here
        log.exception("live push for poll %s failed", poll_id)
    finally:
        connection.close()  # this thread's connection, back to the pool


async def _running_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


def _server_loop() -> asyncio.AbstractEventLoop | None:
    """The server's event loop when called from a request's thread; None in a plain sync context."""
    try:
        loop = async_to_sync(_running_loop)()
    except RuntimeError:
        return None
    # Outside a server async_to_sync runs a loop of its own for the call and closes it after.
    return loop if loop.is_running() else None


def _schedule(poll_id: int, wait: float) -> None:
    loop = _server_loop()
    if loop is not None:

        def start() -> None:
            task = asyncio.ensure_future(sync_to_async(_due, thread_sensitive=False)(poll_id))
            _tasks.add(task)  # the loop keeps only a weak reference
            task.add_done_callback(_tasks.discard)

        loop.call_soon_threadsafe(loop.call_later, wait, start)
        return
    timer = threading.Timer(wait, _timer_due, args=(poll_id,))
    timer.daemon = True
    timer.start()


def _timer_due(poll_id: int) -> None:
    close_old_connections()
    _due(poll_id)


def reset() -> None:
    """Forget this process's push times (tests)."""
    with _lock:
        _last_push.clear()
        _pending.clear()
