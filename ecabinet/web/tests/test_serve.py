"""`ecabinet serve` end to end, as a separate process: HTTP, sign-in, WebSocket, background worker.

Each server gets its own var/ directory and database (a scratch PostgreSQL database on the
PostgreSQL pass, an SQLite file otherwise), so these tests prove what `make run` and a production
install do, not what the test client does.
"""

from __future__ import annotations

import json
import secrets
import urllib.request
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from websockets.exceptions import ConnectionClosed

from ecabinet.web.tests import procs

WS_TIMEOUT = 30  # seconds to wait for one message; generous, nothing is timed


def installation_env(var_dir: Path, database_url: str) -> dict[str, str]:
    # The beat's checkpoint a day away: test_embedded_worker_runs_a_task makes the only one.
    env = procs.clean_env(VAR_DIR=str(var_dir), DATABASE_URL=database_url, AUDIT_CHECKPOINT_SECONDS="86400")
    if settings.REDIS_URL:  # the PostgreSQL+Redis pass: the server uses Redis as production does
        env["ECABINET_REDIS_URL"] = settings.REDIS_URL
    return env


@dataclass
class Installation:
    env: dict[str, str]
    var_dir: Path


@pytest.fixture(scope="module")
def installation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installation]:
    """One install as `make run` leaves it: migrated and seeded. The servers below share it.

    Each test signs in a different demo person: a one-time code counts once, and two sign-ins of
    one person within the same 30 seconds would be a replay.
    """
    var_dir = tmp_path_factory.mktemp("serve-var")
    with procs.scratch_database(var_dir) as database_url:
        env = installation_env(var_dir, database_url)
        seeded = procs.prepare_installation(env)
        assert "thutuong" in seeded and "Demo logins" in seeded
        yield Installation(env, var_dir)


@pytest.fixture(scope="module")
def served(installation: Installation) -> Iterator[procs.Server]:
    """`ecabinet serve` on that install, with its background worker."""
    server = procs.Server(env=installation.env, port=procs.free_port(), log_path=installation.var_dir / "serve.log").start()
    try:
        yield server
    finally:
        server.stop()


def receive_json(ws: Any) -> Any:
    return json.loads(ws.recv(timeout=WS_TIMEOUT))


def close_code(ws: Any) -> int | None:
    """Read until the server closes; the close code it sent."""
    try:
        while True:
            ws.recv(timeout=WS_TIMEOUT)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


def test_health_and_readiness_over_http(served: procs.Server) -> None:
    client = procs.HttpClient(served.url)
    health = client.get("/healthz")
    assert health.status == 200 and health.json() == {"status": "ok"}

    ready = client.get("/readyz")
    assert ready.status == 200, ready.body
    body = ready.json()
    assert body["status"] == "ready" and body["mode"] == "embedded" and body["failed"] == []
    expected_vendor = "sqlite" if not settings.DATABASE_URL or settings.DATABASE_URL.startswith("sqlite") else "postgresql"
    assert body["checks"]["database"] == {"ok": True, "vendor": expected_vendor}
    assert body["checks"]["broker"]["ok"] is True
    if settings.REDIS_URL:
        assert body["checks"]["redis"] == {"ok": True}
        assert body["checks"]["broker"]["transport"] == "redis"
    else:
        assert "redis" not in body["checks"]
        assert body["checks"]["broker"]["transport"] == "filesystem"


def test_sign_in_then_live_websocket(served: procs.Server) -> None:
    client = procs.HttpClient(served.url)
    procs.sign_in(client, served.env, "thutuong")
    assert client.cookie("sessionid")

    with procs.open_websocket(served, client.cookie_header()) as ws:
        hello = receive_json(ws)
        assert hello["type"] == "hello" and isinstance(hello["user"], int)
        ws.send(json.dumps({"type": "ping"}))
        assert receive_json(ws) == {"type": "pong"}


def test_anonymous_websocket_is_closed_with_4401(served: procs.Server) -> None:
    with procs.open_websocket(served) as ws:
        assert close_code(ws) == 4401


def test_password_step_alone_does_not_open_the_websocket(served: procs.Server) -> None:
    client = procs.HttpClient(served.url)
    first = client.post_form("/login/", {"username": "pho.thutuong", "password": procs.DEMO_PASSWORD})
    assert first.status == 302 and client.cookie("sessionid"), "the password step keeps a pending session"
    with procs.open_websocket(served, client.cookie_header()) as ws:
        assert close_code(ws) == 4401


def test_websocket_from_another_origin_is_refused(served: procs.Server) -> None:
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    client = procs.HttpClient(served.url)
    procs.sign_in(client, served.env, "bt.taichinh")
    with pytest.raises(InvalidStatus) as refused:
        connect(served.ws_url + "/ws/live/", origin="https://evil.example", additional_headers={"Cookie": client.cookie_header()}, proxy=None)  # type: ignore[arg-type]
    assert refused.value.response.status_code == 403


def test_embedded_worker_runs_a_task(served: procs.Server) -> None:
    """A task queued from another process (as any app server would) is run by the worker serve started.

    The task is the audit checkpoint: it signs the log's Merkle root at its current size. The
    beat's own run of it is a day away in this installation, so a new checkpoint is this call's.
    """
    script = """
import json, time, django
django.setup()
from ecabinet.audit.models import AuditEntry, Checkpoint
from ecabinet.audit.tasks import make_checkpoint
before = Checkpoint.objects.count()
size = AuditEntry.objects.count()
make_checkpoint.delay()
deadline = time.monotonic() + 120
while time.monotonic() < deadline:
    made = Checkpoint.objects.filter(size__gte=size).order_by("size").first()
    if made is not None:
        print(json.dumps({"before": before, "entries": size, "size": made.size, "signed": bool(made.note)}))
        break
    time.sleep(0.5)
else:
    print(json.dumps({"before": before, "entries": size, "size": None}))
"""
    result = procs.python(served.env, script)
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["before"] == 0 and found["entries"] > 0, found
    assert found["size"] is not None, f"the worker did not run the task; server log:\n{served.log()}"
    assert found["size"] >= found["entries"] and found["signed"] is True


def test_metrics_count_requests_per_route(served: procs.Server) -> None:
    client = procs.HttpClient(served.url)
    for _ in range(3):
        assert client.get("/healthz").status == 200
    text = client.get("/metrics").body
    healthz_count = next(line for line in text.splitlines() if line.startswith('ecabinet_http_requests_total{method="GET",route="healthz",status="200"}'))
    assert float(healthz_count.rsplit(" ", 1)[1]) >= 3
    assert 'ecabinet_http_request_duration_seconds_bucket{le="0.005",method="GET",route="healthz"}' in text


def test_restart_keeps_data_and_sessions(installation: Installation) -> None:
    """What `make run` promises: stop it, start it again, and everything (even the session) is still there."""
    env, var_dir = installation.env, installation.var_dir
    port = procs.free_port()
    server = procs.Server(env=env, port=port, log_path=var_dir / "restart-1.log", args=["--no-worker"]).start()
    try:
        client = procs.HttpClient(server.url)
        procs.sign_in(client, env, "thuky.vpcp")
    finally:
        server.stop()

    again = procs.prepare_installation(env)  # what the second `make run` does before serving
    assert "already present; keeping it" in again
    # The same address, so the browser (this cookie jar) simply reloads the page.
    server = procs.Server(env=env, port=port, log_path=var_dir / "restart-2.log", args=["--no-worker"]).start()
    try:
        home = client.get("/")
        assert home.status == 200 and "Trần Văn Sơn" in home.body
    finally:
        server.stop()
    assert (var_dir / "keys" / "secret_key").exists(), "the embedded secret key is kept on disk, so sessions survive"


# --- live events across processes ------------------------------------------------------------


@pytest.fixture
def redis_servers(request: pytest.FixtureRequest) -> Iterator[tuple[procs.Server, procs.Server] | None]:
    """Two app servers on one Redis and one database, as production runs them.

    Without ECABINET_REDIS_URL there is no shared layer to test: the embedded default uses the
    in-memory layer, which by design reaches only clients of its own process. The fixture then
    checks that this is indeed the layer in use and yields None. The cross-process part runs in
    the PostgreSQL+Redis pass of `.ci/run`, which sets ECABINET_REDIS_URL.
    """
    if not settings.REDIS_URL:
        assert "redis" not in settings.CHANNEL_LAYERS["default"]["BACKEND"].lower()
        assert isinstance(get_channel_layer(), InMemoryChannelLayer)
        yield None
        return
    installation: Installation = request.getfixturevalue("installation")
    a = procs.Server(env=installation.env, port=procs.free_port(), log_path=installation.var_dir / "a.log", args=["--no-worker"])
    b = procs.Server(env=installation.env, port=procs.free_port(), log_path=installation.var_dir / "b.log", args=["--no-worker"])
    try:
        yield a.start(), b.start()
    finally:
        a.stop()
        b.stop()


def test_live_event_crosses_processes(redis_servers: tuple[procs.Server, procs.Server] | None) -> None:
    event = {"type": "test.event", "token": secrets.token_hex(8)}
    if redis_servers is None:
        # Embedded: the in-memory layer delivers a group message to a channel of this process.
        layer = get_channel_layer()

        async def round_trip() -> Any:
            channel = await layer.new_channel()
            await layer.group_add("user.1", channel)
            await layer.group_send("user.1", {"type": "live.event", "event": event})
            return await layer.receive(channel)

        assert async_to_sync(round_trip)() == {"type": "live.event", "event": event}
        return

    a, b = redis_servers
    client = procs.HttpClient(a.url)
    procs.sign_in(client, a.env, "bt.tuphap")
    with procs.open_websocket(a, client.cookie_header()) as on_a, procs.open_websocket(b, client.cookie_header()) as on_b:
        hello_a, hello_b = receive_json(on_a), receive_json(on_b)
        assert hello_a["type"] == hello_b["type"] == "hello" and hello_a["user"] == hello_b["user"]
        user_id = hello_a["user"]
        # A third process, as a worker or another app server would, sends to the user's group.
        procs.python(
            a.env,
            "import django; django.setup()\n"
            "from asgiref.sync import async_to_sync\n"
            "from channels.layers import get_channel_layer\n"
            f"async_to_sync(get_channel_layer().group_send)('user.{user_id}', {{'type': 'live.event', 'event': {event!r}}})\n",
        )
        assert receive_json(on_a) == event, "the client on server A got the event"
        assert receive_json(on_b) == event, "the client on server B got the event"


def _spawned_workers(root: int) -> list[int]:
    """Processes under ``root`` started by multiprocessing's spawn (uvicorn's server processes)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError):
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
    tree, frontier = set(), [root]
    while frontier:
        pid = frontier.pop()
        children = [child for child, parent in parents.items() if parent == pid]
        tree.update(children)
        frontier.extend(children)
    found = []
    for pid in tree:
        with suppress(OSError):
            if b"spawn_main" in (Path("/proc") / str(pid) / "cmdline").read_bytes():
                found.append(pid)
    return found


def test_serve_runs_several_processes_on_one_port(installation: Installation) -> None:
    server = procs.Server(
        env=installation.env, port=procs.free_port(), log_path=installation.var_dir / "serve-workers.log", args=["--no-worker", "--workers", "2"]
    ).start()
    try:
        assert server.process is not None
        assert len(_spawned_workers(server.process.pid)) == 2, server.log()
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        for _ in range(6):
            with opener.open(server.url + "/readyz", timeout=10) as resp:
                assert resp.status == 200
    finally:
        server.stop()


def test_serve_refuses_zero_processes(installation: Installation) -> None:
    result = procs.ecabinet(installation.env, "serve", "--no-worker", "--workers", "0", check=False)
    assert result.returncode != 0
    assert "--workers must be at least 1" in result.stderr + result.stdout
