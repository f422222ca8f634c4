"""The ``ecabinet`` console script: Django's management commands under one name.

``ecabinet serve``, ``ecabinet migrate``, ``ecabinet seed-demo``, ``ecabinet audit verify`` … each
is a management command in one of the apps, so ``--help`` works on every one of them.
"""

from __future__ import annotations

import os
import sys

PROJECT_COMMANDS = {
    "serve": "Start the web server (HTTP + WebSocket); in the embedded mode also the background worker",
    "worker": "Run a Celery worker (production); add --beat for the scheduler",
    "migrate": "Create or update the database tables",
    "seed-demo": "Create the demo government, its people and their authenticators",
    "demo-code": "Print a one-time code of a demo user that sign-in accepts (embedded mode only)",
    "createadmin": "Create an administrator account",
    "check": "Check the configuration and the services it names",
    "audit": "Audit log: verify, checkpoint, proof, export",
    "pki": "Certification authority: init, import, status, crl, chain",
    "poll": "Signed votes: list, evidence POLL_ID DIR, verify DIR, close-due, seal-init",
    "documents": "Documents: import PATH... --meeting ID, export VERSION_ID OUT, rekey, rescan",
}


def _usage() -> str:
    lines = ["usage: ecabinet COMMAND [options]", "", "Commands:"]
    width = max(len(name) for name in PROJECT_COMMANDS)
    lines += [f"  {name.ljust(width)}  {text}" for name, text in PROJECT_COMMANDS.items()]
    lines += ["", "Every Django management command works too. 'ecabinet COMMAND --help' describes one."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecabinet.settings")
    if len(argv) < 2 or argv[1] in ("-h", "--help", "help"):
        print(_usage())
        return
    # `ecabinet check` is the project's check, not Django's bare system check.
    if argv[1] == "check":
        argv[1] = "ecabinet_check"
    # Commands are spelled with hyphens on the command line (seed-demo), underscores in Python.
    argv[1] = argv[1].replace("-", "_")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["ecabinet", *argv[1:]])


if __name__ == "__main__":
    main()
