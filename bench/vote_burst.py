"""Vote burst: 500 distinct members submit signed ballots at once through the HTTP API.

Each member has a certificate issued by the installation CA (through the real enrolment actions),
a device key, a TOTP secret and an API token. The harness plays their devices: it builds and signs
every ballot and computes every one-time code beforehand, then fires them concurrently at a real
``ecabinet serve --no-worker`` on PostgreSQL (ECABINET_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/ecabinet_bench; a private database is made next to it). The
server runs the full check for each: the TOTP step-up, canonical form, signature, certificate path
and revocation, owner, eligibility, poll state, nonce, audit append.

Before each burst every member's device loads the poll, as a tablet shows the question before it
signs (not timed). The burst is repeated on BENCH_ROUNDS open polls (3), a TOTP step apart since a
member's next code must be for a later step; the figures are the median round's, with every
round's throughput listed, because a two-second burst on a shared machine varies by a fifth from
run to run. The clients are plain keep-alive HTTP/1.1 connections in one event loop, each request
written out beforehand; the run reports the CPU the server, the database and the clients each spent
per ballot, and the mean group size the server
wrote under the audit lock (from /metrics).

Then, in the same run, the bare limit: verifying the same 500 signatures with their certificates'
keys and inserting 500 rows (one committed transaction each) in a tight loop on the same database,
three times, the median kept.
Prints one JSON object: throughput, p50/p99 latency, lost and duplicated counts over all rounds
(must be 0/0) and the ratio to the bare limit. Knobs: BENCH_VOTERS (500), BENCH_CONCURRENCY (64),
BENCH_ROUNDS (3), BENCH_WORKERS (``ecabinet serve`` processes; one per core, at most four, by default, as a
deployment runs them; the bare limit is always one process).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

from ecabinet.voting.tests.vote_servers import Server, child_env, free_port, members_from, private_database, run_cli, seed, wait_code_window, wait_next_step  # noqa: E402

VOTERS = int(os.environ.get("BENCH_VOTERS", "500"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "64"))
# One server process per core (at most four), as docs/deployment.md advises for `ecabinet serve --workers`.
WORKERS = int(os.environ.get("BENCH_WORKERS", str(min(4, os.cpu_count() or 1))))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/ecabinet_bench"
CHOICES = ["approve", "reject", "abstain"]


def log(*args: Any) -> None:
    print(*args, file=sys.stderr, flush=True)


def percentile(values: list[float], q: int) -> float:
    ms = sorted(v * 1000 for v in values)
    return round(statistics.quantiles(ms, n=100, method="inclusive")[q - 1], 1) if len(ms) > 1 else round(ms[0], 1)


def tree_cpu_seconds(root: int, *, split: bool = False) -> Any:
    """User + system CPU of a process and all its descendants (Linux /proc), in seconds.

    The server's CPU per ballot does not depend on what else the machine is running, unlike the
    throughput: the machine this runs on is often shared, so both are reported.
    """
    parents: dict[int, int] = {}
    times: dict[int, tuple[float, float]] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) / tick, int(fields[12]) / tick)
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        children = [child for child, parent in parents.items() if parent == pid and child not in tree]
        tree.update(children)
        frontier.extend(children)
    user = sum(times.get(pid, (0.0, 0.0))[0] for pid in tree)
    system = sum(times.get(pid, (0.0, 0.0))[1] for pid in tree)
    return (user, system) if split else user + system


async def show_poll(base: str, poll_id: int, bodies: list[tuple[Any, dict[str, Any]]]) -> None:
    """Before the vote, every member's device loads the poll to show the question (a tablet signs
    nothing it has not shown), as in a session. Not timed."""
    import aiohttp

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as http:

        async def show(member: Any) -> None:
            async with http.get(f"{base}/api/v1/polls/{poll_id}", headers={"Authorization": f"Bearer {member.token}"}) as response:
                response.raise_for_status()

        await asyncio.gather(*(show(member) for member, _ in bodies))


def _request(host: str, port: int, path: str, token: str, body: dict[str, Any]) -> bytes:
    payload = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    )
    return head.encode() + payload


_LENGTH = re.compile(rb"(?im)^content-length:[ \t]*([0-9]+)\r$")


async def fire_all(base: str, poll_id: int, bodies: list[tuple[Any, dict[str, Any]]]) -> tuple[list[float], list[int], dict[str, int], dict[str, int]]:
    """Every ballot at once from CONCURRENCY keep-alive HTTP/1.1 connections in one event loop.

    The requests are written out beforehand, as the ballots are signed beforehand, and each answer
    is read by its Content-Length: the 500 tablets of a real vote do not run on the server's cores,
    and here the clients share them with the server they measure, so they should take as little
    of them as they can (a general-purpose client, aiohttp, took about 0.3 ms of CPU a request, a
    tenth of the server's time per ballot)."""
    host, port = base.removeprefix("http://").rsplit(":", 1)
    path = f"/api/v1/polls/{poll_id}/ballots"
    latencies: list[float] = []
    statuses: list[int] = []
    receipts: dict[str, int] = {}
    refusals: dict[str, int] = {}
    queue = [(member, _request(host, int(port), path, member.token, body)) for member, body in reversed(bodies)]

    async def client() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while queue:
                member, request = queue.pop()
                began = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = _LENGTH.search(head)
                if length is None:
                    raise RuntimeError(f"an answer without Content-Length: {head[:200]!r}")
                answer = json.loads(await reader.readexactly(int(length.group(1))))
                latencies.append(time.perf_counter() - began)
                status = int(head.split(b" ", 2)[1])
                statuses.append(status)
                if status == 201:
                    receipts[answer["ballot_sha256"]] = member.id
                else:
                    code = str(answer.get("code") if isinstance(answer, dict) else status)
                    refusals[code] = refusals.get(code, 0) + 1
        finally:
            writer.close()

    await asyncio.wait_for(asyncio.gather(*(client() for _ in range(CONCURRENCY))), timeout=120)
    return latencies, statuses, receipts, refusals


def ballot_groups(base: str) -> tuple[float, float]:
    """The server's /metrics counts of ballot groups written and ballots in them (one process)."""
    import urllib.request

    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as response:  # noqa: S310 - our own server
        text = response.read().decode()
    values = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in ("ecabinet_ballot_groups_total", "ecabinet_ballot_group_items_total"):
            values[name] = float(value)
    return values.get("ecabinet_ballot_groups_total", 0.0), values.get("ecabinet_ballot_group_items_total", 0.0)


def _postmaster_pid() -> int | None:
    """The local PostgreSQL server's main process, whose children serve every connection (None when
    the database is elsewhere or not visible here)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if cmdline and cmdline[0].endswith(b"/postgres") and b"-D" in cmdline:
                return int(entry.name)
    return None


def bare_limit(database_url: str, bodies: list[tuple[Any, dict[str, Any]]], certificates: dict[int, x509.Certificate]) -> dict[str, Any]:
    import psycopg

    started = time.perf_counter()
    for member, body in bodies:
        certificates[member.id].public_key().verify(base64.b64decode(body["signature"]), body["ballot"].encode(), ec.ECDSA(hashes.SHA256()))  # type: ignore[call-arg, arg-type]
    verified = time.perf_counter()
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_bare_ballot"
            " (id bigserial primary key, voter bigint, data bytea, signature bytea, sha256 text unique, nonce text unique)"
        )
        conn.commit()
        insert_started = time.perf_counter()
        for member, body in bodies:
            data = body["ballot"].encode()
            conn.execute(
                "INSERT INTO bench_bare_ballot (voter, data, signature, sha256, nonce) VALUES (%s, %s, %s, %s, %s)",
                (member.id, data, base64.b64decode(body["signature"]), hashlib.sha256(data).hexdigest(), json.loads(data)["nonce"]),
            )
            conn.commit()
        inserted = time.perf_counter()
        conn.execute("DROP TABLE bench_bare_ballot")
        conn.commit()
    verify_s, insert_s = verified - started, inserted - insert_started
    return {
        "verify_seconds": round(verify_s, 4),
        "insert_seconds": round(insert_s, 4),
        "throughput_per_s": round(len(bodies) / (verify_s + insert_s), 1),
    }


def burst(server: Server, poll: dict[str, Any], members: list[Any]) -> dict[str, Any]:
    """One round: every member's device shows the poll (not timed), then all cast at once."""
    wait_code_window()
    bodies = [(m, m.body(poll, CHOICES[i % 3])) for i, m in enumerate(members)]
    log(f"{len(bodies)} devices show poll {poll['id']} …")
    asyncio.run(show_poll(server.url, poll["id"], bodies))
    log(f"firing {len(bodies)} ballots with {CONCURRENCY} concurrent clients …")
    postmaster = _postmaster_pid()
    cpu_before = tree_cpu_seconds(server.process.pid, split=True)
    db_before = tree_cpu_seconds(postmaster) if postmaster else 0.0
    client_before = time.process_time()
    groups_before = ballot_groups(server.url)
    started = time.perf_counter()
    latencies, statuses, receipts, refusals = asyncio.run(fire_all(server.url, poll["id"], bodies))
    elapsed = time.perf_counter() - started
    client_cpu = time.process_time() - client_before
    cpu_after = tree_cpu_seconds(server.process.pid, split=True)
    db_cpu = (tree_cpu_seconds(postmaster) - db_before) if postmaster else None
    groups_after = ballot_groups(server.url)
    server_user, server_system = cpu_after[0] - cpu_before[0], cpu_after[1] - cpu_before[1]
    n = max(1, len(statuses))
    return {
        "poll": poll["id"],
        "accepted": len(receipts),
        "refused": sum(1 for s in statuses if s != 201),
        "refusals": refusals,
        "elapsed_seconds": round(elapsed, 3),
        "throughput_per_s": round(len(receipts) / elapsed, 1),
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "server_cpu_ms_per_ballot": round((server_user + server_system) * 1000 / n, 2),
        "server_system_cpu_ms_per_ballot": round(server_system * 1000 / n, 2),
        "client_cpu_ms_per_ballot": round(client_cpu * 1000 / n, 2),
        "database_cpu_ms_per_ballot": round(db_cpu * 1000 / n, 2) if db_cpu is not None else None,
        # /metrics is per process: with several server processes this reads only the one that answered.
        "ballots_per_group": round((groups_after[1] - groups_before[1]) / max(1, groups_after[0] - groups_before[0]), 1) if WORKERS == 1 else None,
        "receipts": receipts,
        "bodies": bodies,
    }


def main() -> None:
    os.environ.setdefault("ECABINET_DATABASE_URL", DEFAULT_DB)
    if not os.environ["ECABINET_DATABASE_URL"].startswith(("postgres://", "postgresql://")):
        raise SystemExit("vote_burst measures PostgreSQL: set ECABINET_DATABASE_URL=postgres://…")
    with tempfile.TemporaryDirectory(prefix="ecab-vote-bench-") as tmp:
        work = Path(tmp)
        with private_database(work, f"vote{os.getpid()}") as database_url:
            env = child_env(work, database_url=database_url, redis_url=None)
            env["ECABINET_SERVE_WORKERS"] = str(WORKERS)
            log("migrating …")
            run_cli(env, "migrate", "--noinput", "-v", "0")
            log(f"seeding {VOTERS} members with certificates and {ROUNDS} open polls …")
            data = seed(env, voters=VOTERS, polls=ROUNDS)
            members = members_from(data)
            rounds: list[dict[str, Any]] = []
            server = Server(env, free_port(), work / "server.log")
            try:
                server.wait_ready()
                for number, poll in enumerate(data["polls"]):
                    if number:
                        wait_next_step()  # each member's next code must be for a later step
                    rounds.append(burst(server, poll, members))
                    log(f"round {number + 1}: {rounds[-1]['throughput_per_s']} ballots/s")
            finally:
                server.stop()
            if any(r["refusals"] for r in rounds):
                log("server log (tail):", (work / "server.log").read_text(errors="replace")[-3000:])
            import psycopg

            with psycopg.connect(database_url) as conn:
                rows = conn.execute("SELECT sha256, poll_id, voter_id FROM voting_ballot").fetchall()
                certs = conn.execute(
                    "SELECT DISTINCT b.voter_id, c.certificate_pem FROM voting_ballot b JOIN pki_membercertificate c ON c.id = b.certificate_id"
                ).fetchall()
            certificates = {voter: x509.load_pem_x509_certificate(pem.encode()) for voter, pem in certs}
            stored = {sha for sha, _, _ in rows}
            receipts = {sha: voter for r in rounds for sha, voter in r["receipts"].items()}
            lost = len(set(receipts) - stored)
            duplicated = (len(rows) - len(stored)) + (len(rows) - len({(poll, voter) for _, poll, voter in rows}))
            log("bare limit: verifying and inserting in a tight loop …")
            first = rounds[0]["bodies"]
            # Three times, the median kept: on a shared disk one run of 500 commits swings by a fifth.
            signed = [(m, b) for m, b in first if m.id in certificates]
            bares = sorted((bare_limit(database_url, signed, certificates) for _ in range(3)), key=lambda b: b["throughput_per_s"])
            bare = {**bares[1], "throughput_per_run": [b["throughput_per_s"] for b in bares]}
    for r in rounds:
        del r["receipts"], r["bodies"]
    median = sorted(rounds, key=lambda r: r["throughput_per_s"])[len(rounds) // 2]
    result = {
        "benchmark": "vote_burst",
        "database": "postgresql",
        "voters": len(members),
        "concurrency": CONCURRENCY,
        "server_processes": WORKERS,
        "rounds": len(rounds),
        "lost": lost,
        "duplicated": duplicated,
        **{k: v for k, v in median.items() if k != "poll"},
        "throughput_per_round": [r["throughput_per_s"] for r in rounds],
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "bare_limit": bare,
        "ratio_to_bare": round(median["throughput_per_s"] / bare["throughput_per_s"], 3),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
