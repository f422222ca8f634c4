"""``ecabinet check``: Django's system checks, then the services the configuration names."""

from __future__ import annotations

import json
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand

from ecabinet.web.health import readiness


class Command(BaseCommand):
    help = "Check the configuration and that the database (and Redis, when set) answer. Exit status 1 if not ready."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--json", action="store_true", help="print the readiness report as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("check", deploy=False)
        report = readiness()
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2))
        else:
            for name, result in report["checks"].items():
                self.stdout.write(f"{name:<10} {'ok' if result['ok'] else 'FAILED ' + result.get('error', '')}")
            for name, present in report["optional"].items():
                self.stdout.write(f"{name:<10} {'present' if present else 'missing (optional)'}")
        if report["status"] != "ready":
            raise SystemExit(1)
