"""Group commit: threads that each need one short serialised write share one transaction.

Every ballot appends to the one audit chain, so ballots are written one after another under the
chain's lock whatever we do. Taken one ballot at a time, the lock is held across five round trips
to the database and, in a busy process, across waits for the interpreter lock between them; a
burst queues behind it. Here the first thread to arrive becomes the *leader*: it takes everything
queued so far and writes it with one lock, one read and one insert per table, while the threads
that arrive meanwhile wait; when it is done, one of them leads the next group with whatever has
queued since. Each thread gets its own item's outcome (a value or an exception) back, and returns
only once the group holding its item has committed, so an answered request is a stored one.

Nothing here knows about databases: ``write`` does the work and sets each item's outcome.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T", bound="Item")


class Item:
    """One thread's piece of work; ``write`` sets ``result`` or ``error`` for it."""

    def __init__(self) -> None:
        self.done = False
        self.result: object = None
        self.error: BaseException | None = None

    def outcome(self) -> object:
        if self.error is not None:
            raise self.error
        return self.result


class GroupCommit(Generic[T]):
    """Hand ``submit(item)`` (or ``submit_many(items)``) items to ``write(group)``, one group at a
    time, each group everything queued when it starts.

    ``write`` must give every item of its group a result or an error; if it raises instead, every
    item of the group that has neither gets that exception.
    """

    def __init__(self, write: Callable[[Sequence[T]], None]) -> None:
        self._write = write
        self._cond = threading.Condition()
        self._queue: list[T] = []
        self._leading = False
        self.groups = 0  # groups written and items in them, for tests and the benchmark
        self.items = 0

    def submit(self, item: T) -> object:
        """Queue one item and return its outcome once its group has committed (or raise its error)."""
        self.submit_many([item])
        return item.outcome()

    def submit_many(self, items: Sequence[T]) -> None:
        """Queue several items at once (a batch of requests a caller already holds) and return once
        every one of them is done; each item's ``outcome()`` then gives its value or raises its error.
        They go in one group if none is being written, else in the next."""
        if not items:
            return
        with self._cond:
            self._queue.extend(items)
            while not all(item.done for item in items):
                if self._leading:
                    self._cond.wait()
                    continue
                # No group is being written and ours have not all been: lead the next one.
                self._leading = True
                group, self._queue = self._queue, []
                self._cond.release()
                try:
                    self._lead(group)
                finally:
                    self._cond.acquire()

    def _lead(self, group: list[T]) -> None:
        """Write ``group``; called without the condition's lock, which it takes to hand over."""
        try:
            self._write(group)
        except BaseException as exc:
            for queued in group:
                if queued.error is None and queued.result is None:
                    queued.error = exc
        finally:
            with self._cond:
                for queued in group:
                    queued.done = True
                self.groups += 1
                self.items += len(group)
                self._leading = False
                self._cond.notify_all()
