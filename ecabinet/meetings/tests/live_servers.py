"""Real ``ecabinet serve`` processes for the cross-process live test and the fan-out benchmark.

Each run gets its own var/ directory, secret key and database (a SQLite file, or a fresh
PostgreSQL database next to the one named by the outer ECABINET_DATABASE_URL), migrated and seeded
in child processes, so the servers and the harness share nothing but the database and Redis.

``python -m ecabinet.meetings.tests.live_servers seed --members N`` (run with the children's
environment) creates a meeting in session and prints its ids and people as JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from ecabinet.identity.core import totp

LOCAL_REDIS = "redis://127.0.0.1:6379"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def private_database(work: Path, label: str) -> Iterator[str]:
    """A fresh database for the child processes: PostgreSQL if the outer run uses it, else SQLite."""
    outer = os.environ.get("ECABINET_DATABASE_URL", "")
    if not outer.startswith(("postgres://", "postgresql://")):
        yield f"sqlite:///{work / 'live.sqlite3'}"
        return
    import psycopg

    parts = urlsplit(outer)
    name = f"{parts.path.lstrip('/') or 'ecabinet'}_{label}"
    admin = urlunsplit((parts.scheme.replace("postgresql", "postgres"), parts.netloc, "/postgres", "", ""))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit((parts.scheme, parts.netloc, "/" + name, "", ""))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def child_env(work: Path, *, database_url: str, redis_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECABINET_") and k != "PYTEST_CURRENT_TEST"}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "ecabinet.settings",
            "ECABINET_VAR_DIR": str(work / "var"),
            "ECABINET_SECRET_KEY": secrets.token_urlsafe(50),
            "ECABINET_DATABASE_URL": database_url,
            "PYTHONUNBUFFERED": "1",
        }
    )
    if redis_url:
        env["ECABINET_REDIS_URL"] = redis_url
    # The children import this checkout, wherever the interpreter's editable install points.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[3]), env.get("PYTHONPATH", "")]))
    return env


def run_cli(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    result = subprocess.run([sys.executable, "-m", "ecabinet.cli", *args], env=env, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"ecabinet {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def seed(env: dict[str, str], *, members: int = 1) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "ecabinet.meetings.tests.live_servers", "seed", "--members", str(members)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        raise RuntimeError(f"seeding failed:\n{result.stdout}\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


class Server:
    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._log = log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ecabinet.cli", "serve", "--no-worker", "--port", str(port), "--log-level", "warning"],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server on {self.port} exited with {self.process.returncode}: {Path(self._log.name).read_text()[-3000:]}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"server on {self.port} did not answer within {timeout} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def web_login(base_url: str, username: str, password: str, totp_secret: str) -> requests.Session:
    """Sign in through the real pages: CSRF cookie, password, then the one-time code."""
    http = requests.Session()
    http.get(base_url + "/login/", timeout=10).raise_for_status()
    token = http.cookies["csrftoken"]
    response = http.post(
        base_url + "/login/", data={"username": username, "password": password, "csrfmiddlewaretoken": token}, allow_redirects=False, timeout=30
    )
    if response.status_code != 302:
        raise RuntimeError(f"password step failed: {response.status_code}")
    page = http.get(base_url + "/login/code/", timeout=10)
    page.raise_for_status()
    response = http.post(
        base_url + "/login/code/",
        data={"code": totp.code_for(totp_secret), "csrfmiddlewaretoken": http.cookies["csrftoken"]},
        allow_redirects=False,
        timeout=30,
    )
    if response.status_code != 302 or "sessionid" not in http.cookies:
        raise RuntimeError(f"code step failed: {response.status_code}")
    return http


def api_post(http: requests.Session, url: str) -> requests.Response:
    return http.post(url, headers={"X-CSRFToken": http.cookies["csrftoken"], "Content-Type": "application/json"}, timeout=30)


# --- the seed, run inside a child with the servers' environment -------------------------------


def _seed(members: int) -> dict[str, Any]:
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.utils import timezone
    from django.utils.module_loading import import_string

    from ecabinet.identity import actions as identity_actions
    from ecabinet.identity.models import Role, User
    from ecabinet.identity.tests.factories import PASSWORD, GovernmentFactory, UserFactory
    from ecabinet.meetings.models import Meeting, Participant
    from ecabinet.meetings.tests.factories import AgendaItemFactory, MeetingFactory, OfficeFactory

    gov = GovernmentFactory()
    OfficeFactory(parent=gov)
    chair = UserFactory(role=Role.CHAIR, organisation=gov, username="chair")
    member = UserFactory(role=Role.MEMBER, organisation=gov, username="member")
    meeting = MeetingFactory(organisation=gov, chair=chair, created_by=chair, state=Meeting.State.IN_SESSION, opened_at=timezone.now())
    items = [AgendaItemFactory(meeting=meeting, order=n, proposed_by=chair, title=f"Tờ trình số {n}") for n in range(1, 21)]
    # Extra members for the fan-out: no password hashing, signed in by writing their sessions.
    extra = User.objects.bulk_create(
        [User(username=f"m{n}", full_name=f"Bộ trưởng {n}", role=Role.MEMBER, organisation=gov, password="!") for n in range(members - 1)]
    )
    people = [chair, member, *extra]
    Participant.objects.bulk_create([Participant(meeting=meeting, user=u, kind=Participant.Kind.MEMBER) for u in people])
    store_cls = import_string(settings.SESSION_ENGINE + ".SessionStore")
    now = int(time.time())
    sessions = []
    for user in [member, *extra]:
        session = store_cls()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session[identity_actions.SESSION_MFA] = True
        session[identity_actions.SESSION_LOGIN_AT] = now
        session[identity_actions.SESSION_SEEN_AT] = now
        session.create()
        sessions.append(session.session_key)
    return {
        "meeting": meeting.pk,
        "items": [item.pk for item in items],
        "password": PASSWORD,
        "chair": {"username": chair.username, "totp": chair.test_totp_secret},
        "member": {"username": member.username, "totp": member.test_totp_secret},
        "sessions": sessions,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["seed"])
    parser.add_argument("--members", type=int, default=1)
    args = parser.parse_args()
    print(json.dumps(_seed(max(1, args.members))))


if __name__ == "__main__":
    main()
