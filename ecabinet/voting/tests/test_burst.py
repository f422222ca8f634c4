"""Against a real ``ecabinet serve`` (SQLite file or PostgreSQL): a burst of concurrent ballots from
threads loses and duplicates nothing, and kill -9 in the middle of a burst keeps every ballot that
was acknowledged with a receipt; the exported evidence then verifies."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from ecabinet.voting.tests.vote_servers import Server, child_env, free_port, members_from, post_ballot, private_database, run_cli, seed, wait_code_window

CHOICES = ["approve", "reject", "abstain"]


@pytest.fixture
def served(tmp_path):
    label = f"vote{os.getpid()}"
    with private_database(tmp_path, label) as database_url:
        env = child_env(tmp_path, database_url=database_url, redis_url=None)
        run_cli(env, "migrate", "--noinput", "-v", "0")
        yield tmp_path, env


def start(env, tmp_path: Path, name: str) -> Server:
    server = Server(env, free_port(), tmp_path / f"{name}.log")
    server.wait_ready()
    return server


def evidence_ok(env, tmp_path: Path, poll_id: int) -> dict:
    folder = tmp_path / "evidence"
    run_cli(env, "poll", "evidence", str(poll_id), str(folder))
    report = json.loads(run_cli(env, "poll", "verify", str(folder), "--json"))
    assert report["ok"], report["problems"]
    return json.loads((folder / "result.json").read_bytes())


def test_a_concurrent_burst_loses_and_duplicates_nothing(served):
    tmp_path, env = served
    data = seed(env, voters=30)
    poll, members = data["poll"], members_from(data)
    server = start(env, tmp_path, "burst")
    try:
        wait_code_window()
        bodies = [(m, m.body(poll, CHOICES[i % 3])) for i, m in enumerate(members)]
        barrier = threading.Barrier(len(bodies))

        def fire(pair):
            member, body = pair
            with requests.Session() as http:
                barrier.wait()
                return post_ballot(http, server.url, member, poll["id"], body)

        with ThreadPoolExecutor(len(bodies)) as pool:
            responses = list(pool.map(fire, bodies))
        assert [r.status_code for r in responses] == [201] * len(members), [r.text for r in responses if r.status_code != 201][:3]
        receipts = {r.json()["ballot_sha256"] for r in responses}
        closed = requests.post(f"{server.url}/api/v1/polls/{poll['id']}/close", headers={"Authorization": f"Bearer {data['chair_token']}"}, timeout=60)
        assert closed.status_code == 200, closed.text
    finally:
        server.stop()
    result = evidence_ok(env, tmp_path, poll["id"])
    stored = [b["ballot_sha256"] for b in result["ballots"]]
    assert len(stored) == len(set(stored)) == len(members)
    assert set(stored) == receipts
    assert result["tally"]["counts"] == {"approve": 10, "reject": 10, "abstain": 10}


def test_kill_9_mid_burst_keeps_every_acknowledged_ballot(served):
    tmp_path, env = served
    data = seed(env, voters=60)
    poll, members = data["poll"], members_from(data)
    server = start(env, tmp_path, "before")
    acknowledged: dict[str, int] = {}
    failed = 0
    lock = threading.Lock()
    try:
        wait_code_window()
        bodies = [(m, m.body(poll, CHOICES[i % 3])) for i, m in enumerate(members)]

        def fire(pair):
            nonlocal failed
            member, body = pair
            try:
                response = post_ballot(requests.Session(), server.url, member, poll["id"], body, timeout=20)
            except requests.RequestException:
                with lock:
                    failed += 1
                return
            with lock:
                if response.status_code == 201:
                    acknowledged[response.json()["ballot_sha256"]] = member.id
                else:
                    failed += 1

        with ThreadPoolExecutor(16) as pool:
            futures = [pool.submit(fire, pair) for pair in bodies]
            deadline = time.monotonic() + 60
            while len(acknowledged) < len(members) // 3 and time.monotonic() < deadline:
                time.sleep(0.005)
            os.kill(server.process.pid, signal.SIGKILL)
            server.process.wait()
            for future in futures:
                future.result()
    finally:
        server.stop()
    assert len(members) // 3 <= len(acknowledged) < len(members), (len(acknowledged), failed)
    restarted = start(env, tmp_path, "after")
    try:
        closed = requests.post(f"{restarted.url}/api/v1/polls/{poll['id']}/close", headers={"Authorization": f"Bearer {data['chair_token']}"}, timeout=60)
        assert closed.status_code == 200, closed.text
    finally:
        restarted.stop()
    result = evidence_ok(env, tmp_path, poll["id"])
    stored = {b["ballot_sha256"]: b["voter"] for b in result["ballots"]}
    missing = set(acknowledged) - set(stored)
    assert not missing, f"{len(missing)} acknowledged ballots were lost"
    assert all(stored[h] == voter for h, voter in acknowledged.items())
    assert len(stored) == len(set(stored.values()))  # one ballot per member, none duplicated
