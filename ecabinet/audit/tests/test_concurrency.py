"""Appends from many processes and threads at once, and the real ``ecabinet audit`` exit codes.

These tests share a database with child processes: on PostgreSQL the test database itself (so
they run with ``transaction=True`` and commit for real), on SQLite a migrated file, because the
in-memory test database cannot be opened by another process.
"""

from __future__ import annotations

import itertools

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection

from ecabinet.audit import db_guard
from ecabinet.audit.models import AuditEntry
from ecabinet.audit.tests.conftest import CHILD_TIMEOUT, ExternalDB

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_appends_never_fork_the_chain(external_db: ExternalDB):
    # PostgreSQL takes more writers at once; SQLite serialises them on its write lock either way.
    processes, threads, count = (4, 8, 10) if external_db.vendor == "postgresql" else (4, 4, 10)
    workers = [
        external_db.spawn("ecabinet.audit.tests.append_worker", "--threads", str(threads), "--count", str(count), "--tag", f"p{p}") for p in range(processes)
    ]
    for worker in workers:
        _, err = worker.communicate(timeout=CHILD_TIMEOUT)
        assert worker.returncode == 0, err

    total = processes * threads * count
    rows = external_db.rows("SELECT seq, object_id, prev_hash, entry_hash FROM audit_auditentry ORDER BY seq")
    assert [row[0] for row in rows] == list(range(total))
    expected_ids = {f"p{p}-{t}-{i}" for p in range(processes) for t in range(threads) for i in range(count)}
    assert {row[1] for row in rows} == expected_ids
    assert all(after[2] == before[3] for before, after in itertools.pairwise(rows))

    result = external_db.cli("audit", "verify", "--no-record")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"OK: {total} audit entries, hash chain intact")


def test_the_command_line_exits_non_zero_naming_the_bad_entry(external_db: ExternalDB):
    worker = external_db.spawn("ecabinet.audit.tests.append_worker", "--threads", "1", "--count", "12", "--tag", "cli")
    _, err = worker.communicate(timeout=CHILD_TIMEOUT)
    assert worker.returncode == 0, err
    signed = external_db.cli("audit", "checkpoint")
    assert signed.returncode == 0, signed.stderr
    assert signed.stdout.splitlines()[1] == "12"

    # While the trigger is there, a plain UPDATE from outside the application is refused too.
    with pytest.raises(Exception, match="append-only"):
        external_db.execute("UPDATE audit_auditentry SET event = 'x' WHERE seq = 5")

    external_db.execute(*external_db.disable_guard_sql(), "UPDATE audit_auditentry SET event = 'edited' WHERE seq = 5")
    result = external_db.cli("audit", "verify", "--no-record")
    assert result.returncode == 1
    assert "FAILED: entry #5:" in result.stderr
    assert "WARNING: append-only trigger" in result.stderr


def test_flush_empties_the_log_and_puts_the_guard_back(entries):
    # The test runner flushes between transactional tests; the guard must neither block that nor stay off.
    entries(3)
    call_command("flush", interactive=False, verbosity=0)
    assert not AuditEntry.objects.exists()
    assert db_guard.missing(connection) == []
    entries(1)
    with pytest.raises(IntegrityError, match="append-only"):
        AuditEntry.objects.update(event="edited")
