"""Live fan-out: 1,000 WebSocket clients on one meeting; the chair starts an item through the API.

For every client, the delay from sending the HTTP request until that client holds the
``item.started`` event; then the same clients against a bare broadcast server (a minimal
``websockets`` server sending the same payload to the same number of clients), measured the same
way, in the same run. Prints one JSON object: p50/p99/max of both and the ratio.

The e-Cabinet server is a real ``ecabinet serve --no-worker``: embedded SQLite and the in-memory
channel layer by default; PostgreSQL and Redis when ECABINET_DATABASE_URL / ECABINET_REDIS_URL are
set. Knobs: BENCH_CLIENTS (1000), BENCH_ROUNDS (5).
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import websockets  # noqa: E402

from ecabinet.meetings.tests.live_servers import Server, api_post, child_env, free_port, private_database, run_cli, seed, web_login  # noqa: E402

CLIENTS = int(os.environ.get("BENCH_CLIENTS", "1000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
SESSIONS = 100  # distinct signed-in members; the clients share them round-robin
CONNECT_AT_ONCE = 50
TIMEOUT = 60.0


def log(*args: Any) -> None:
    print(*args, file=sys.stderr, flush=True)


def raise_open_files(needed: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = needed if hard == resource.RLIM_INFINITY else min(max(soft, needed), hard)
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def summary(delays: list[float], expected: int) -> dict[str, Any]:
    ms = sorted(d * 1000 for d in delays)
    if not ms:
        return {"received": 0, "expected": expected}
    pct = statistics.quantiles(ms, n=100, method="inclusive") if len(ms) > 1 else [ms[0]] * 99
    return {"received": len(ms), "expected": expected, "p50_ms": round(pct[49], 1), "p99_ms": round(pct[98], 1), "max_ms": round(ms[-1], 1)}


class Fleet:
    """Many WebSocket clients in this process, each noting when it sees the awaited message."""

    def __init__(self) -> None:
        self.sockets: list[Any] = []
        self.readers: list[asyncio.Task[None]] = []
        self.match: Any = None
        self.arrivals: dict[int, float] = {}
        self.all_in = asyncio.Event()
        self.sample: str | None = None

    async def connect(self, urls_and_headers: list[tuple[str, dict[str, str]]], *, skip_first: bool) -> None:
        gate = asyncio.Semaphore(CONNECT_AT_ONCE)

        async def one(index: int, url: str, headers: dict[str, str]) -> None:
            async with gate:
                ws = await websockets.connect(url, additional_headers=headers, compression=None, max_size=None, open_timeout=60, ping_interval=None)
                if skip_first:
                    await asyncio.wait_for(ws.recv(), 60)  # the snapshot
                self.sockets[index] = ws

        self.sockets = [None] * len(urls_and_headers)
        await asyncio.gather(*(one(i, url, headers) for i, (url, headers) in enumerate(urls_and_headers)))
        self.readers = [asyncio.create_task(self._read(i, ws)) for i, ws in enumerate(self.sockets)]

    async def _read(self, index: int, ws: Any) -> None:
        async for text in ws:
            now = time.perf_counter()
            if self.match is not None and index not in self.arrivals and self.match(text):
                self.arrivals[index] = now
                if self.sample is None:
                    self.sample = text
                if len(self.arrivals) == len(self.sockets):
                    self.all_in.set()

    def expect(self, match: Any) -> None:
        self.arrivals = {}
        self.all_in = asyncio.Event()
        self.match = match

    async def wait(self) -> None:
        try:
            await asyncio.wait_for(self.all_in.wait(), TIMEOUT)
        except TimeoutError:
            log(f"  only {len(self.arrivals)} of {len(self.sockets)} clients got the message")

    async def close(self) -> None:
        for task in self.readers:
            task.cancel()
        await asyncio.gather(*(ws.close() for ws in self.sockets if ws is not None), return_exceptions=True)


async def run_ecabinet(work: Path) -> tuple[dict[str, Any], str, dict[str, str]]:
    redis_url = os.environ.get("ECABINET_REDIS_URL") or None
    with private_database(work, "bench") as database_url:
        env = child_env(work, database_url=database_url, redis_url=redis_url)
        log("migrating…")
        run_cli(env, "migrate", "--noinput", "-v", "0")
        log("seeding…")
        data = seed(env, members=SESSIONS)
        server = Server(env, free_port(), work / "server.log")
        try:
            server.wait_ready()
            chair = await asyncio.to_thread(web_login, server.url, data["chair"]["username"], data["password"], data["chair"]["totp"])
            url = f"ws://127.0.0.1:{server.port}/ws/meetings/{data['meeting']}/"
            sessions = data["sessions"]
            fleet = Fleet()
            log(f"connecting {CLIENTS} clients to e-Cabinet…")
            started = time.perf_counter()
            await fleet.connect([(url, {"Cookie": f"sessionid={sessions[i % len(sessions)]}", "Origin": server.url}) for i in range(CLIENTS)], skip_first=True)
            log(f"  connected in {time.perf_counter() - started:.1f} s")
            delays: list[float] = []
            request_ms: list[float] = []
            for round_no in range(ROUNDS):
                item = data["items"][round_no]
                needle = f'"kind": "item.started", "meeting": {data["meeting"]}, "item": {item},'
                fleet.expect(lambda text, needle=needle: needle in text)
                t0 = time.perf_counter()
                response = await asyncio.to_thread(api_post, chair, f"{server.url}/api/v1/meetings/{data['meeting']}/items/{item}/start")
                request_ms.append((time.perf_counter() - t0) * 1000)
                if response.status_code != 200:
                    raise RuntimeError(f"start failed: {response.status_code} {response.text}")
                await fleet.wait()
                delays += [t - t0 for t in fleet.arrivals.values()]
                log(f"  round {round_no + 1}: {len(fleet.arrivals)} clients, slowest {max(fleet.arrivals.values()) - t0:.3f} s")
                await asyncio.sleep(0.5)
            sample = fleet.sample or "{}"
            await fleet.close()
        finally:
            server.stop()
        result = summary(delays, CLIENTS * ROUNDS)
        result["http_request_p50_ms"] = round(statistics.median(request_ms), 1)
        result["database"] = "postgresql" if database_url.startswith("postgres") else "sqlite"
        result["channel_layer"] = "redis" if redis_url else "in-memory"
        return result, sample, env


# --- the bare broadcast server ----------------------------------------------------------------

BARE_SERVER = """
import asyncio, sys, websockets
clients = set()
async def handler(ws):
    if ws.request.path == "/control":
        async for payload in ws:
            websockets.broadcast(clients, payload)
        return
    clients.add(ws)
    try:
        await ws.wait_closed()
    finally:
        clients.discard(ws)
async def main():
    async with websockets.serve(handler, "127.0.0.1", int(sys.argv[1]), compression=None, max_size=None, ping_interval=None):
        print("ready", flush=True)
        await asyncio.Future()
asyncio.run(main())
"""


async def run_bare(payload: str) -> dict[str, Any]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", BARE_SERVER, str(port)], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        await asyncio.to_thread(process.stdout.readline)
        fleet = Fleet()
        log(f"connecting {CLIENTS} clients to the bare server…")
        await fleet.connect([(f"ws://127.0.0.1:{port}/", {}) for _ in range(CLIENTS)], skip_first=False)
        control = await websockets.connect(f"ws://127.0.0.1:{port}/control", compression=None)
        delays: list[float] = []
        for round_no in range(ROUNDS):
            fleet.expect(lambda text: text == payload)
            t0 = time.perf_counter()
            await control.send(payload)
            await fleet.wait()
            delays += [t - t0 for t in fleet.arrivals.values()]
            log(f"  round {round_no + 1}: {len(fleet.arrivals)} clients, slowest {max(fleet.arrivals.values()) - t0:.3f} s")
            await asyncio.sleep(0.5)
        await control.close()
        await fleet.close()
    finally:
        process.terminate()
        process.wait(timeout=10)
    return summary(delays, CLIENTS * ROUNDS)


async def main() -> dict[str, Any]:
    limit = raise_open_files(CLIENTS * 2 + 256)
    with tempfile.TemporaryDirectory(prefix="ecab-bench-fanout-") as tmp:
        ecabinet, payload, _ = await run_ecabinet(Path(tmp))
    bare = await run_bare(payload)
    out: dict[str, Any] = {
        "name": "live_fanout",
        "clients": CLIENTS,
        "rounds": ROUNDS,
        "open_files_limit": limit,
        "payload_bytes": len(payload.encode()),
        "ecabinet": ecabinet,
        "bare": bare,
        "aim": {"p99_ms": 250, "ratio_p99": 2.0},
    }
    if "p99_ms" in ecabinet and "p99_ms" in bare:
        out["ratio_p50"] = round(ecabinet["p50_ms"] / max(bare["p50_ms"], 0.1), 2)
        out["ratio_p99"] = round(ecabinet["p99_ms"] / max(bare["p99_ms"], 0.1), 2)
        out["ratio_max"] = round(ecabinet["max_ms"] / max(bare["max_ms"], 0.1), 2)
        out["meets_aim"] = ecabinet["p99_ms"] < 250 and out["ratio_p99"] <= 2.0
    return out


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
