"""``ecabinet worker``: a Celery worker on the configured broker (production)."""

from __future__ import annotations

import os
import sys
from typing import Any

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run a Celery worker on ECABINET_BROKER_URL / ECABINET_REDIS_URL. Extra options go to 'celery worker'."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--beat", action="store_true", help="also run the periodic scheduler (run it in one worker only)")
        parser.add_argument("--concurrency", type=int, default=2)

    def handle(self, *args: Any, **options: Any) -> None:
        cmd = [sys.executable, "-m", "celery", "-A", "ecabinet", "worker", "--concurrency", str(options["concurrency"]), "--loglevel", "INFO"]
        if options["beat"]:
            cmd.append("--beat")
        os.execv(sys.executable, cmd)  # noqa: S606 - replaces this process with the worker, fixed arguments
