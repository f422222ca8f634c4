"""Vote burst: 500 distinct members submit signed ballots at once through the HTTP API.

Each member has a certificate issued by the installation CA (through the real enrolment actions),
a device key, a TOTP secret and an API token. The harness plays their devices: it builds and signs
every ballot and computes every one-time code beforehand, then fires them concurrently at a real
``ecabinet serve --no-worker`` on PostgreSQL (ECABINET_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/ecabinet_bench; a private database is made next to it). The
server runs the full check for each: the TOTP step-up, canonical form, signature, certificate path
and revocation, owner, eligibility, poll state, nonce, audit append.

Then, in the same run, the bare limit: verifying the same 500 signatures with their certificates'
keys and inserting 500 rows (one committed transaction each) in a tight loop on the same database.
Prints one JSON object: throughput, p50/p99 latency, lost and duplicated counts (must be 0/0) and
the ratio to the bare limit. Knobs: BENCH_VOTERS (500), BENCH_CONCURRENCY (64), BENCH_WORKERS (1:
``ecabinet serve`` processes; the bare limit is always one process).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

from ecabinet.voting.tests.vote_servers import Server, child_env, free_port, members_from, post_ballot, private_database, run_cli, seed, wait_code_window  # noqa: E402

VOTERS = int(os.environ.get("BENCH_VOTERS", "500"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "64"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "1"))
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/ecabinet_bench"
CHOICES = ["approve", "reject", "abstain"]


def log(*args: Any) -> None:
    print(*args, file=sys.stderr, flush=True)


def percentile(values: list[float], q: int) -> float:
    ms = sorted(v * 1000 for v in values)
    return round(statistics.quantiles(ms, n=100, method="inclusive")[q - 1], 1) if len(ms) > 1 else round(ms[0], 1)


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU of a process and all its descendants (Linux /proc), in seconds.

    The server's CPU per ballot does not depend on what else the machine is running, unlike the
    throughput: the machine this runs on is often shared, so both are reported.
    """
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        children = [child for child, parent in parents.items() if parent == pid and child not in tree]
        tree.update(children)
        frontier.extend(children)
    return sum(times.get(pid, 0.0) for pid in tree)


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
            log(f"seeding {VOTERS} members with certificates …")
            data = seed(env, voters=VOTERS)
            poll, members = data["poll"], members_from(data)
            certificates = {}
            server = Server(env, free_port(), work / "server.log")
            try:
                server.wait_ready()
                wait_code_window()
                bodies = [(m, m.body(poll, CHOICES[i % 3])) for i, m in enumerate(members)]
                log(f"firing {len(bodies)} ballots with {CONCURRENCY} concurrent clients …")
                sessions = [requests.Session() for _ in range(CONCURRENCY)]
                latencies: list[float] = []
                statuses: list[int] = []
                receipts: dict[str, int] = {}
                refusals: dict[str, int] = {}

                def fire(index: int) -> None:
                    member, body = bodies[index]
                    began = time.perf_counter()
                    response = post_ballot(sessions[index % CONCURRENCY], server.url, member, poll["id"], body)
                    latencies.append(time.perf_counter() - began)
                    statuses.append(response.status_code)
                    if response.status_code == 201:
                        receipts[response.json()["ballot_sha256"]] = member.id
                    else:
                        code = str(response.json().get("code") if response.headers.get("Content-Type", "").endswith("json") else response.status_code)
                        refusals[code] = refusals.get(code, 0) + 1

                cpu_before = tree_cpu_seconds(server.process.pid)
                started = time.perf_counter()
                with ThreadPoolExecutor(CONCURRENCY) as pool:
                    list(pool.map(fire, range(len(bodies))))
                elapsed = time.perf_counter() - started
                server_cpu = tree_cpu_seconds(server.process.pid) - cpu_before
            finally:
                server.stop()
            if refusals:
                log("server log (tail):", (work / "server.log").read_text(errors="replace")[-3000:])
            import psycopg

            with psycopg.connect(database_url) as conn:
                rows = conn.execute("SELECT sha256, voter_id FROM voting_ballot WHERE poll_id = %s", (poll["id"],)).fetchall()
                certs = conn.execute(
                    "SELECT b.voter_id, c.certificate_pem FROM voting_ballot b JOIN pki_membercertificate c ON c.id = b.certificate_id WHERE b.poll_id = %s",
                    (poll["id"],),
                ).fetchall()
            certificates = {voter: x509.load_pem_x509_certificate(pem.encode()) for voter, pem in certs}
            stored = {sha for sha, _ in rows}
            lost = len(set(receipts) - stored)
            duplicated = (len(rows) - len(stored)) + (len(rows) - len({voter for _, voter in rows}))
            log("bare limit: verifying and inserting in a tight loop …")
            bare = bare_limit(database_url, [(m, b) for m, b in bodies if m.id in certificates], certificates)
    api_throughput = len(receipts) / elapsed
    result = {
        "benchmark": "vote_burst",
        "database": "postgresql",
        "voters": len(members),
        "concurrency": CONCURRENCY,
        "server_processes": WORKERS,
        "accepted": len(receipts),
        "refused": sum(1 for s in statuses if s != 201),
        "refusals": refusals,
        "lost": lost,
        "duplicated": duplicated,
        "elapsed_seconds": round(elapsed, 3),
        "throughput_per_s": round(api_throughput, 1),
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "server_cpu_ms_per_ballot": round(server_cpu * 1000 / max(1, len(statuses)), 2),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "bare_limit": bare,
        "ratio_to_bare": round(api_throughput / bare["throughput_per_s"], 3),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
