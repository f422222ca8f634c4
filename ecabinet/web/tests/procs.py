"""Helpers for tests that run e-Cabinet as separate processes: the console script, `ecabinet serve`.

They talk to the servers over real HTTP and WebSocket, with no proxy, on ports the kernel hands
out, and they give every server its own var/ directory and database.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings

from ecabinet.identity.demo import DEMO_PASSWORD

# Generous: a loaded CI machine may take a while to import Django and migrate. Only waits use it;
# no test fails because something was merely slow.
START_TIMEOUT = 120.0
COMMAND_TIMEOUT = 300.0
_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def ecabinet_script() -> str:
    """The installed console script next to this interpreter (what `make run` calls)."""
    beside = Path(sys.executable).with_name("ecabinet")
    return str(beside) if beside.exists() else shutil.which("ecabinet") or "ecabinet"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(**overrides: str) -> dict[str, str]:
    """This environment without any ECABINET_* setting, plus ``overrides`` (names without the prefix).

    The test process's own settings (its private var/ dir, ECABINET_TESTING) must not leak into
    a server that is meant to behave like a real installation.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECABINET_") and k not in ("DJANGO_ALLOW_ASYNC_UNSAFE", "PYTEST_CURRENT_TEST")}
    env["DJANGO_SETTINGS_MODULE"] = "ecabinet.settings"
    env["PYTHONUNBUFFERED"] = "1"
    for name, value in overrides.items():
        env[f"ECABINET_{name}"] = value
    return env


def run(args: list[str], env: dict[str, str], *, check: bool = True, timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if check:
        assert result.returncode == 0, f"{args} exited {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


def ecabinet(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run([ecabinet_script(), *args], env, check=check)


def python(env: dict[str, str], code: str, *, check: bool = True, timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "-c", code], env, check=check, timeout=timeout)


# --- databases -------------------------------------------------------------------------------


@contextmanager
def scratch_database(folder: Path) -> Iterator[str]:
    """A database URL for a server under test, of the same kind this test run uses.

    On the PostgreSQL pass a new database on the same server (dropped afterwards), so serve is
    proved against PostgreSQL too; otherwise an SQLite file in ``folder``.
    """
    base = settings.DATABASE_URL
    if not base or base.startswith("sqlite"):
        yield f"sqlite:///{folder / 'ecabinet.sqlite3'}"
        return
    import psycopg

    parts = urllib.parse.urlsplit(base)
    name = f"ecab_serve_{secrets.token_hex(4)}"
    admin_url = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- servers ---------------------------------------------------------------------------------


@dataclass
class Server:
    env: dict[str, str]
    port: int
    log_path: Path
    args: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> Server:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [ecabinet_script(), "serve", "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning", *self.args],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stop() also reaches the worker
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"ecabinet serve exited {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(self.url + "/healthz", timeout=2) as resp:
                    if resp.status == 200:
                        return self
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.2)
        self.stop()
        raise AssertionError(f"ecabinet serve did not answer /healthz within {START_TIMEOUT:.0f} s:\n{self.log()}")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # uvicorn shuts down; atexit stops the worker
            with suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=30)
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # whatever is left of the group
        self.process.wait(timeout=30)
        self.process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def prepare_installation(env: dict[str, str]) -> str:
    """migrate + seed-demo, as `make run` does; returns seed-demo's output (the demo logins)."""
    ecabinet(env, "migrate", "--noinput", "-v", "0")
    return ecabinet(env, "seed-demo", "--if-empty").stdout


# --- a browser without a browser -------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass
class Response:
    status: int
    body: str
    headers: dict[str, str]  # names in lower case

    def json(self) -> Any:
        return json.loads(self.body)


class HttpClient:
    """Cookies kept, redirects not followed (the tests check them), no proxy from the environment."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect())

    def request(self, method: str, path: str, data: dict[str, str] | None = None) -> Response:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(self.base_url + path, data=body, method=method)  # noqa: S310 - base_url is http://127.0.0.1:port
        if body is not None:
            req.add_header("Content-Type", "application/x-www-form-urlencoded")
            req.add_header("Referer", self.base_url + path)
        try:
            with self.opener.open(req, timeout=30) as resp:
                return Response(resp.status, resp.read().decode("utf-8", "replace"), {k.lower(): v for k, v in resp.headers.items()})
        except urllib.error.HTTPError as err:  # 3xx (not followed), 4xx, 5xx
            return Response(err.code, err.read().decode("utf-8", "replace"), {k.lower(): v for k, v in err.headers.items()})

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post_form(self, path: str, fields: dict[str, str]) -> Response:
        """Submit the form on ``path`` the way a browser does: fetch it, then post with its CSRF token."""
        page = self.get(path)
        assert page.status == 200, f"GET {path} gave {page.status}"
        match = _CSRF.search(page.body)
        assert match, f"no CSRF token in the form at {path}"
        return self.request("POST", path, {"csrfmiddlewaretoken": match.group(1), **fields})

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.cookies if c.name == name), None)

    def cookie_header(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.cookies)


def sign_in(client: HttpClient, env: dict[str, str], username: str) -> None:
    """The two-step sign-in: password, then the current code from `ecabinet demo-code`."""
    first = client.post_form("/login/", {"username": username, "password": DEMO_PASSWORD})
    assert first.status == 302 and first.headers.get("location", "").endswith("/login/code/"), (first.status, first.body[:500])
    code = ecabinet(env, "demo-code", username).stdout.strip()
    assert re.fullmatch(r"\d{6}", code), code
    second = client.post_form("/login/code/", {"code": code})
    assert second.status == 302, (second.status, second.body[:500])
    home = client.get("/")
    assert home.status == 200, home.status


def open_websocket(server: Server, cookie: str = "") -> Any:
    """A WebSocket to /ws/live/ as the page would open it: same-origin, with the session cookie."""
    from websockets.sync.client import connect

    headers = {"Cookie": cookie} if cookie else {}
    return connect(server.ws_url + "/ws/live/", origin=server.url, additional_headers=headers, proxy=None, open_timeout=30)  # type: ignore[arg-type]
