from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ecabinet.identity import demo


class Command(BaseCommand):
    help = "Create the demo government (a chair, ministers, secretaries, a security officer, an admin, a guest)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--if-empty", action="store_true", help="do nothing if any user exists (make run uses this)")

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            # The demo accounts share a published password: they must never exist in a real government.
            raise CommandError("seed-demo is for the embedded demo only; use 'ecabinet createadmin' in production")
        if demo.is_seeded():
            if not options["if_empty"]:
                self.stderr.write("The database already has users; the demo government is only created in an empty one.")
                raise SystemExit(1)
            self.stdout.write("Demo data already present; keeping it.")
        else:
            demo.seed()
            self.stdout.write(self.style.SUCCESS("Demo government created."))
            # Signed votes (voting app): a past meeting's vote, a written consultation, a sealed decision.
            from ecabinet.voting import demo as voting_demo

            made = voting_demo.seed()
            # The demo's ballots were confirmed with codes this program made itself and never showed;
            # forget them, so a newcomer's first code from `ecabinet demo-code` is accepted at once.
            demo.release_seeding_codes()
            if made:
                self.stdout.write(
                    f"Signed votes: poll {made['poll']}, written consultation {made['consultation']}, sealed decision PDF {made['signed_decision']}."
                )
        rows = demo.demo_logins()
        if not rows:
            return
        self.stdout.write(f"\nDemo logins (password for all: {demo.DEMO_PASSWORD})")
        self.stdout.write("A current one-time code: 'ecabinet demo-code USERNAME' (or add the TOTP secret to an authenticator app).\n")
        width = max(len(r[0]) for r in rows)
        for username, role, name, secret in rows:
            self.stdout.write(f"  {username.ljust(width)}  {role:<16}  {secret or '(no second factor)':<32}  {name}")
