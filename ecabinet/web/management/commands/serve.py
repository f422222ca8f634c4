"""``ecabinet serve``: the ASGI server for HTTP and WebSocket (one process, or ``--workers N`` on one port).

In the embedded mode it also starts a Celery worker with its scheduler as a child process, on a
broker kept in files under ``var/``, so background work runs with no external service.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from typing import Any

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from ecabinet.web.health import optional_tools, readiness


class Command(BaseCommand):
    help = "Start e-Cabinet (HTTP + WebSocket); in the embedded mode also its background worker."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default=settings.SERVE_HOST, help="address to listen on (ECABINET_HOST)")
        parser.add_argument("--port", type=int, default=settings.SERVE_PORT, help="port (ECABINET_PORT)")
        parser.add_argument("--workers", type=int, default=settings.SERVE_WORKERS, help="server processes on the one port (ECABINET_SERVE_WORKERS)")
        parser.add_argument("--no-worker", action="store_true", help="do not start the embedded background worker")
        parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])

    def handle(self, *args: Any, **options: Any) -> None:
        workers = options["workers"]
        if workers < 1:
            raise CommandError("--workers must be at least 1")
        state = readiness()
        missing = [name for name, present in optional_tools().items() if not present]
        self.stdout.write(f"e-Cabinet {settings.MODE} mode · database {state['checks']['database']['vendor']} · {state['status']}")
        if missing:
            self.stdout.write(f"optional tools missing (features that need them are off): {', '.join(missing)}")
        if not settings.PRODUCTION and not options["no_worker"]:
            self._start_embedded_worker()
        self.stdout.write(f"listening on http://{options['host']}:{options['port']}/" + (f" with {workers} processes" if workers > 1 else ""))
        # The readiness check borrowed a connection; give it and this process's pool back before
        # uvicorn starts its processes (each opens its own pool when it first needs the database).
        connections.close_all()
        for connection in connections.all(initialized_only=True):
            close_pool = getattr(connection, "close_pool", None)
            if close_pool is not None:
                with contextlib.suppress(KeyError):
                    close_pool()
        uvicorn.run(
            "ecabinet.asgi:application",
            host=options["host"],
            port=options["port"],
            lifespan="off",
            log_level=options["log_level"],
            proxy_headers=settings.TRUSTED_PROXY_COUNT > 0,
            workers=workers,
        )

    def _start_embedded_worker(self) -> None:
        env = dict(os.environ, ECABINET_EMBEDDED_WORKER="1")
        schedule = str(settings.VAR_DIR / "celerybeat-schedule")
        cmd = [sys.executable, "-m", "celery", "-A", "ecabinet", "--quiet", "worker", "--beat", "--schedule", schedule]
        cmd += ["--pool", "solo", "--loglevel", "WARNING"]
        # preexec_fn is safe here: serve has started no threads yet.
        child = subprocess.Popen(cmd, env=env, preexec_fn=_die_with_parent)
        atexit.register(_stop, child)
        self.stdout.write(f"background worker started (pid {child.pid})")


def _die_with_parent() -> None:
    """Ask Linux to end the worker when serve ends, even by SIGKILL, so no orphan keeps polling."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the atexit hook still stops it on a clean exit
        pass


def _stop(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
