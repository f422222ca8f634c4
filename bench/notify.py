"""Notification fan-out: one event (a dossier published) to 1,000 invited members with mixed preferences.

A real ``ecabinet serve`` (HTTP + WebSocket, and its background worker that sends the e-mail) on a
private var/ directory and database, an SMTP server (aiosmtpd) in this process standing in for
the mail relay, and one WebSocket per member on ``/ws/live/``. The office secretary publishes the
dossier through the API; the clock runs from that request until every member holds the in-app
notification on their WebSocket and every e-mail due now has been accepted by the SMTP server.

Preferences, by member number: 2 of 6 keep the defaults (e-mail for this event), 1 of 6 chose
e-mail explicitly, 2 of 6 chose in-app only, 1 of 6 take the daily digest (their e-mail waits,
nothing is sent now). So about half the members get an e-mail.

Bare limits, measured the same way in the same run: the same number of messages sent by
``smtplib`` over one connection to the same SMTP server, and a minimal ``websockets`` server
broadcasting the same payload to the same number of clients. Ratios are e-Cabinet / bare.

Embedded SQLite, in-memory channel layer and the file-system broker by default; PostgreSQL and
Redis when ECABINET_DATABASE_URL / ECABINET_REDIS_URL are set. Knobs: BENCH_RECIPIENTS (1000),
BENCH_TIMEOUT (300 s, a ceiling on waiting, not a pass mark).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import smtplib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import websockets  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402

from ecabinet.meetings.tests.live_servers import api_post, child_env, free_port, private_database, run_cli, web_login  # noqa: E402

RECIPIENTS = int(os.environ.get("BENCH_RECIPIENTS", "1000"))
TIMEOUT = float(os.environ.get("BENCH_TIMEOUT", "300"))
CONNECT_AT_ONCE = 50


def log(*args: Any) -> None:
    print(*args, file=sys.stderr, flush=True)


def raise_open_files(needed: int) -> int:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = needed if hard == resource.RLIM_INFINITY else min(max(soft, needed), hard)
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def pct(values: list[float]) -> dict[str, float]:
    ms = sorted(v * 1000 for v in values)
    if not ms:
        return {}
    q = statistics.quantiles(ms, n=100, method="inclusive") if len(ms) > 1 else [ms[0]] * 99
    return {"p50_ms": round(q[49], 1), "p99_ms": round(q[98], 1), "max_ms": round(ms[-1], 1)}


# --- the SMTP server --------------------------------------------------------------------------


class Sink:
    def __init__(self) -> None:
        self.arrivals: list[tuple[float, list[str]]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        with self.lock:
            self.arrivals.append((time.perf_counter(), list(envelope.rcpt_tos)))
        return "250 OK"

    def count(self) -> int:
        with self.lock:
            return len(self.arrivals)


# --- the seed, run in a child with the server's environment -----------------------------------


def _seed(recipients: int) -> dict[str, Any]:
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.utils.module_loading import import_string

    from ecabinet.identity import actions as identity_actions
    from ecabinet.identity.models import Clearance, Role, User
    from ecabinet.identity.tests.factories import PASSWORD, GovernmentFactory, UserFactory
    from ecabinet.meetings.models import Meeting, Participant
    from ecabinet.meetings.tests.factories import AgendaItemFactory, MeetingFactory, OfficeFactory
    from ecabinet.notify.models import Preference

    gov: Any = GovernmentFactory()
    office: Any = OfficeFactory(parent=gov)
    chair: Any = UserFactory(role=Role.CHAIR, organisation=gov, clearance=Clearance.SECRET, email="chair@gov.example")
    secretary: Any = UserFactory(role=Role.SECRETARY, organisation=office, clearance=Clearance.SECRET)
    meeting: Any = MeetingFactory(organisation=gov, chair=chair, created_by=secretary, state=Meeting.State.SCHEDULED)
    AgendaItemFactory(meeting=meeting, order=1, proposed_by=secretary, reviewed_by=secretary)
    members = User.objects.bulk_create(
        [
            User(
                username=f"m{n}",
                full_name=f"Bộ trưởng {n}",
                role=Role.MEMBER,
                organisation=gov,
                clearance=Clearance.SECRET,
                email=f"m{n}@gov.example",
                language=("vi", "en", "fr")[n % 3],
                password="!",
            )
            for n in range(recipients)
        ]
    )
    Participant.objects.bulk_create(
        [Participant(meeting=meeting, user=secretary, kind=Participant.Kind.SECRETARY)]
        + [Participant(meeting=meeting, user=u, kind=Participant.Kind.MEMBER) for u in members]
    )
    prefs, emails = [], 1  # the chair, with the defaults (no WebSocket: not a measured client)
    for n, user in enumerate(members):
        mode = n % 6
        if mode in (0, 1):
            emails += 1  # the default for a published dossier: e-mail (push only with a subscription)
        elif mode == 2:
            prefs.append(Preference(user=user, channels={"dossier.published": ["email"]}))
            emails += 1
        elif mode in (3, 4):
            prefs.append(Preference(user=user, channels={"dossier.published": []}))
        else:
            prefs.append(Preference(user=user, digest=True))
    Preference.objects.bulk_create(prefs)
    store_cls = import_string(settings.SESSION_ENGINE + ".SessionStore")
    now = int(time.time())
    sessions = {}
    for user in members:
        session = store_cls()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session[identity_actions.SESSION_MFA] = True
        session[identity_actions.SESSION_LOGIN_AT] = now
        session[identity_actions.SESSION_SEEN_AT] = now
        session.create()
        sessions[user.pk] = session.session_key
    return {
        "meeting": meeting.pk,
        "password": PASSWORD,
        "secretary": {"username": secretary.username, "totp": secretary.test_totp_secret},
        "sessions": sessions,
        "emails_expected": emails,
        "chair": chair.pk,
    }


# --- e-Cabinet --------------------------------------------------------------------------------


class Serve:
    """``ecabinet serve`` with its embedded worker (which sends the e-mail), as an operator starts it."""

    def __init__(self, env: dict[str, str], port: int, log_path: Path) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ecabinet.cli", "serve", "--port", str(port), "--log-level", "warning"],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 120) -> None:
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited {self.process.returncode}: {Path(self._log.name).read_text()[-3000:]}")
            try:
                if requests.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError("serve did not answer /healthz")

    def stop(self) -> None:
        import signal

        if self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # the worker too
        self.process.wait(timeout=20)
        self._log.close()


async def connect_all(url: str, headers: list[dict[str, str]]) -> list[Any]:
    gate = asyncio.Semaphore(CONNECT_AT_ONCE)

    async def one(h: dict[str, str]) -> Any:
        async with gate:
            ws = await websockets.connect(url, additional_headers=h, compression=None, max_size=None, open_timeout=60, ping_interval=None)
            await asyncio.wait_for(ws.recv(), 60)  # hello
            return ws

    return list(await asyncio.gather(*(one(h) for h in headers)))


async def run_ecabinet(work: Path, sink: Sink, smtp_port: int) -> dict[str, Any]:
    redis_url = os.environ.get("ECABINET_REDIS_URL") or None
    with private_database(work, "bench_notify") as database_url:
        env = child_env(work, database_url=database_url, redis_url=redis_url)
        env["ECABINET_SMTP_URL"] = f"smtp://127.0.0.1:{smtp_port}"
        log("migrating…")
        run_cli(env, "migrate", "--noinput", "-v", "0")
        log(f"seeding {RECIPIENTS} members…")
        seeded = subprocess.run([sys.executable, __file__, "--seed"], env=env, capture_output=True, text=True, timeout=900)
        if seeded.returncode != 0:
            raise RuntimeError(f"seed failed: {seeded.stderr[-3000:]}")
        data = json.loads(seeded.stdout.strip().splitlines()[-1])
        server = Serve(env, free_port(), work / "serve.log")
        try:
            server.wait_ready()
            secretary = await asyncio.to_thread(web_login, server.url, data["secretary"]["username"], data["password"], data["secretary"]["totp"])
            url = f"ws://127.0.0.1:{server.port}/ws/live/"
            users = sorted(data["sessions"])
            log(f"connecting {len(users)} WebSocket clients…")
            sockets = await connect_all(url, [{"Cookie": f"sessionid={data['sessions'][u]}", "Origin": server.url} for u in users])
            arrivals: dict[int, float] = {}
            sample: list[str] = []
            all_in = asyncio.Event()

            async def read(index: int, ws: Any) -> None:
                async for text in ws:
                    if index not in arrivals and '"dossier.published"' in text:
                        arrivals[index] = time.perf_counter()
                        if not sample:
                            sample.append(text)
                        if len(arrivals) == len(sockets):
                            all_in.set()

            readers = [asyncio.create_task(read(i, ws)) for i, ws in enumerate(sockets)]
            log("publishing the dossier…")
            t0 = time.perf_counter()
            response = await asyncio.to_thread(api_post, secretary, f"{server.url}/api/v1/meetings/{data['meeting']}/publish")
            request_s = time.perf_counter() - t0
            if response.status_code != 200:
                raise RuntimeError(f"publish failed: {response.status_code} {response.text[:500]}")
            try:
                await asyncio.wait_for(all_in.wait(), TIMEOUT)
            except TimeoutError:
                log(f"  only {len(arrivals)} of {len(sockets)} in-app notifications arrived")
            inapp_done = time.perf_counter()
            deadline = time.monotonic() + TIMEOUT
            while sink.count() < data["emails_expected"] and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            email_times = [t for t, _to in sink.arrivals]
            for task in readers:
                task.cancel()
            await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
        finally:
            server.stop()
    inapp = [t - t0 for t in arrivals.values()]
    emails = [t - t0 for t in email_times]
    all_done = max([inapp_done, *email_times]) - t0
    return {
        "database": "postgresql" if database_url.startswith("postgres") else "sqlite",
        "channel_layer": "redis" if redis_url else "in-memory",
        "broker": "redis" if redis_url else "filesystem",
        "publish_request_ms": round(request_s * 1000, 1),
        "inapp": {"received": len(arrivals), "expected": len(sockets), "all_in_s": round(max(inapp, default=0), 3), **pct(inapp)},
        "email": {"accepted": len(emails), "expected": data["emails_expected"], "all_in_s": round(max(emails, default=0), 3), **pct(emails)},
        "all_delivered_s": round(all_done, 3),
        "per_recipient_ms": round(all_done * 1000 / RECIPIENTS, 2),
        "per_email_ms": round(max(emails, default=0) * 1000 / max(1, len(emails)), 2),
        "payload": sample[0] if sample else "{}",
    }


# --- bare limits ------------------------------------------------------------------------------


def bare_smtp(port: int, count: int, sink: Sink) -> float:
    before = sink.count()
    t0 = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for n in range(count):
            msg = EmailMessage()
            msg["From"], msg["To"], msg["Subject"] = "e-cabinet@localhost", f"m{n}@gov.example", "e-Cabinet"
            msg.set_content("A meeting dossier was published.")
            smtp.send_message(msg)
    while sink.count() < before + count:
        time.sleep(0.01)
    return time.perf_counter() - t0


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


async def bare_broadcast(payload: str, clients: int) -> dict[str, Any]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", BARE_SERVER, str(port)], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        await asyncio.to_thread(process.stdout.readline)
        gate = asyncio.Semaphore(CONNECT_AT_ONCE)

        async def one() -> Any:
            async with gate:
                return await websockets.connect(f"ws://127.0.0.1:{port}/", compression=None, max_size=None, ping_interval=None)

        sockets = await asyncio.gather(*(one() for _ in range(clients)))
        control = await websockets.connect(f"ws://127.0.0.1:{port}/control", compression=None)
        t0 = time.perf_counter()
        await control.send(payload)

        async def first(ws: Any) -> float:
            await ws.recv()
            return time.perf_counter() - t0

        delays = await asyncio.wait_for(asyncio.gather(*(first(ws) for ws in sockets)), TIMEOUT)
        await control.close()
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    finally:
        process.terminate()
        process.wait(timeout=10)
    return {"all_in_s": round(max(delays), 3), **pct(list(delays))}


async def main() -> dict[str, Any]:
    limit = raise_open_files(RECIPIENTS * 2 + 256)
    sink = Sink()
    smtp_port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        with tempfile.TemporaryDirectory(prefix="ecab-bench-notify-") as tmp:
            ecab = await run_ecabinet(Path(tmp), sink, smtp_port)
        payload = ecab.pop("payload")
        n_emails = max(1, ecab["email"]["expected"])
        log(f"bare SMTP: {n_emails} messages over one connection…")
        smtp_s = await asyncio.to_thread(bare_smtp, smtp_port, n_emails, sink)
    finally:
        controller.stop()
    log(f"bare broadcast to {RECIPIENTS} clients…")
    bare_ws = await bare_broadcast(payload, RECIPIENTS)
    bare = {"websocket": bare_ws, "smtp": {"messages": n_emails, "all_in_s": round(smtp_s, 3), "per_email_ms": round(smtp_s * 1000 / n_emails, 2)}}
    production = bool(os.environ.get("ECABINET_DATABASE_URL") and os.environ.get("ECABINET_REDIS_URL"))
    out: dict[str, Any] = {
        "name": "notify",
        "recipients": RECIPIENTS,
        "mode": "postgresql+redis" if production else "embedded",
        "note": None if production else "embedded default only: set ECABINET_DATABASE_URL and ECABINET_REDIS_URL to measure PostgreSQL + Redis",
        "open_files_limit": limit,
        "preferences": {"default_email": "2/6", "email": "1/6", "inapp_only": "2/6", "digest": "1/6"},
        "ecabinet": ecab,
        "bare": bare,
        "complete": ecab["inapp"]["received"] == ecab["inapp"]["expected"] and ecab["email"]["accepted"] >= ecab["email"]["expected"],
    }
    if ecab["inapp"].get("p99_ms") and bare_ws.get("p99_ms"):
        out["ratio_inapp_all_in"] = round(ecab["inapp"]["all_in_s"] / max(bare_ws["all_in_s"], 0.001), 2)
    if ecab["email"]["accepted"]:
        out["ratio_email_per_message"] = round(ecab["per_email_ms"] / max(bare["smtp"]["per_email_ms"], 0.01), 2)
    return out


if __name__ == "__main__":
    if sys.argv[1:] == ["--seed"]:
        print(json.dumps(_seed(RECIPIENTS)))
    else:
        print(json.dumps(asyncio.run(main())))
