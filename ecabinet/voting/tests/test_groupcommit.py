"""GroupCommit on its own (no database): every item gets its own outcome, groups form while a
group is being written, and an error in ``write`` reaches exactly the items of its group."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from ecabinet.voting.core.groupcommit import GroupCommit, Item


class Job(Item):
    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n


def test_one_item_alone_is_written_by_its_own_thread():
    seen: list[tuple[str, list[int]]] = []

    def write(group):
        seen.append((threading.current_thread().name, [job.n for job in group]))
        for job in group:
            job.result = job.n * 10

    writer = GroupCommit(write)
    assert writer.submit(Job(4)) == 40
    assert seen == [(threading.current_thread().name, [4])]
    assert (writer.groups, writer.items) == (1, 1)


def test_items_arriving_while_a_group_is_written_form_the_next_group_and_each_gets_its_own_result():
    first_group_started = threading.Event()
    release = threading.Event()
    groups: list[list[int]] = []

    def write(group):
        groups.append([job.n for job in group])
        if len(groups) == 1:
            first_group_started.set()
            assert release.wait(10)
        for job in group:
            job.result = f"stored {job.n}"

    writer = GroupCommit(write)
    with ThreadPoolExecutor(9) as pool:
        first = pool.submit(writer.submit, Job(0))
        assert first_group_started.wait(10)
        later = [pool.submit(writer.submit, Job(n)) for n in range(1, 9)]
        deadline = time.monotonic() + 10
        while len(writer._queue) < 8 and time.monotonic() < deadline:  # all eight wait behind the first group
            time.sleep(0.01)
        release.set()
        assert first.result(10) == "stored 0"
        assert [f.result(10) for f in later] == [f"stored {n}" for n in range(1, 9)]
    assert groups[0] == [0]
    assert sorted(groups[1]) == list(range(1, 9))  # one group for everything that queued meanwhile
    assert (writer.groups, writer.items) == (2, 9)


def test_a_refused_item_raises_its_own_error_and_the_others_still_get_results():
    class Refused(Exception):
        pass

    def write(group):
        for job in group:
            if job.n % 2:
                job.error = Refused(job.n)
            else:
                job.result = job.n

    writer = GroupCommit(write)
    assert writer.submit(Job(2)) == 2
    with pytest.raises(Refused):
        writer.submit(Job(3))


def test_an_error_in_write_reaches_every_item_of_that_group_and_the_next_group_still_runs():
    calls = 0

    def write(group):
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("database went away")
        for job in group:
            job.result = "ok"

    writer = GroupCommit(write)
    with pytest.raises(ConnectionError):
        writer.submit(Job(1))
    assert writer.submit(Job(2)) == "ok"
    assert writer._leading is False


def test_a_batch_submitted_at_once_is_one_group_and_each_item_gets_its_own_outcome():
    groups: list[list[int]] = []

    def write(group):
        groups.append([job.n for job in group])
        for job in group:
            if job.n == 2:
                job.error = ValueError(job.n)
            else:
                job.result = job.n * 10

    writer = GroupCommit(write)
    batch = [Job(n) for n in range(4)]
    writer.submit_many(batch)
    assert groups == [[0, 1, 2, 3]]
    assert [job.done for job in batch] == [True] * 4
    assert [batch[n].outcome() for n in (0, 1, 3)] == [0, 10, 30]
    with pytest.raises(ValueError):
        batch[2].outcome()
    writer.submit_many([])  # nothing to write: no group
    assert (writer.groups, writer.items) == (1, 4)


def test_batches_arriving_while_a_group_is_written_go_together_in_the_next_group():
    first_group_started = threading.Event()
    release = threading.Event()
    groups: list[list[int]] = []

    def write(group):
        groups.append(sorted(job.n for job in group))
        if len(groups) == 1:
            first_group_started.set()
            assert release.wait(10)
        for job in group:
            job.result = job.n

    writer = GroupCommit(write)
    with ThreadPoolExecutor(3) as pool:
        first = pool.submit(writer.submit_many, [Job(0), Job(1)])
        assert first_group_started.wait(10)
        later_a, later_b = [Job(2), Job(3)], [Job(4)]
        waits = [pool.submit(writer.submit_many, later_a), pool.submit(writer.submit_many, later_b)]
        deadline = time.monotonic() + 10
        while len(writer._queue) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        release.set()
        for wait in [first, *waits]:
            wait.result(10)
    assert groups == [[0, 1], [2, 3, 4]]
    assert [job.outcome() for job in [*later_a, *later_b]] == [2, 3, 4]
