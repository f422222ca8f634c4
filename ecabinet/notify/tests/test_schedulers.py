"""Reminders go once with two schedulers running at the same time, in two processes on one
database (see ``schedulers.py`` for why processes and not threads)."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ecabinet.meetings.tests import live_servers


def _scheduler_cli(env: dict[str, str], *args: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "ecabinet.notify.tests.schedulers", *args], env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_reminders_go_once_with_two_schedulers_at_once(tmp_path: Path) -> None:
    """Two scheduler processes released at the same instant on one database (an SQLite file, or
    PostgreSQL on the PostgreSQL pass): each attendee is reminded exactly once between them."""
    with live_servers.private_database(tmp_path, f"sched_{secrets.token_hex(3)}") as database_url:
        env = live_servers.child_env(tmp_path, database_url=database_url, redis_url=None)
        live_servers.run_cli(env, "migrate", "--noinput", "-v", "0")
        seeded = _scheduler_cli(env, "seed", "--members", "30")
        attendees = seeded["attendees"]
        assert len(attendees) == 31
        go = tmp_path / "go"
        ready = [tmp_path / f"ready{n}" for n in range(2)]
        schedulers = [
            subprocess.Popen(
                [sys.executable, "-m", "ecabinet.notify.tests.schedulers", "run", str(flag), str(go)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                stdin=subprocess.DEVNULL,
            )
            for flag in ready
        ]
        try:
            deadline = time.monotonic() + 120
            while not all(flag.exists() for flag in ready) and time.monotonic() < deadline:
                assert all(p.poll() is None for p in schedulers), [p.communicate()[1][-2000:] for p in schedulers if p.poll() is not None]
                time.sleep(0.01)
            go.touch()  # both are connected and waiting: release them together
            outputs = [p.communicate(timeout=300) for p in schedulers]
        finally:
            for p in schedulers:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        assert [p.returncode for p in schedulers] == [0, 0], [err[-3000:] for _out, err in outputs]
        results = [json.loads(out.strip().splitlines()[-1]) for out, _err in outputs]
        report = _scheduler_cli(env, "report")
        assert report["reminded"] == sorted([user_id, seeded["meeting"]] for user_id in attendees)  # each attendee once
        assert sum(r["meetings_soon"] for r in results) == len(attendees)
        assert report["claims"] == len(attendees)
        # a third run later finds every reminder already claimed
        go.unlink()
        for flag in ready:
            flag.unlink()
        later = subprocess.Popen(
            [sys.executable, "-m", "ecabinet.notify.tests.schedulers", "run", str(ready[0]), str(go)], env=env, stdout=subprocess.PIPE, text=True
        )
        go.touch()
        out, _err = later.communicate(timeout=300)
        assert json.loads(out.strip().splitlines()[-1])["meetings_soon"] == 0
        assert _scheduler_cli(env, "report")["reminded"] == report["reminded"]
