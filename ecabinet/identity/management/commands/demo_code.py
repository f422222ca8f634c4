from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ecabinet.identity import actions
from ecabinet.identity.core import totp
from ecabinet.identity.models import User


class Command(BaseCommand):
    help = "Print a one-time code of a demo user that the sign-in will accept. Refused in production mode."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError("demo-code is for the embedded demo only; in production codes come from each person's authenticator")
        user = User.objects.filter(username=options["username"]).first()
        if user is None or not user.mfa_enrolled:
            raise CommandError(f"no enrolled user named {options['username']!r}")
        secret = actions.pending_totp_secret(user)
        assert secret is not None
        # Codes are single-use: if this step's code was already used (the demo's own signed
        # ballots use some), give the next step's, which the sign-in's clock window accepts.
        current = int(time.time() // totp.STEP_SECONDS)
        step = max(current, user.totp_last_step + 1)
        if step > current + totp.WINDOW:
            wait = (step - totp.WINDOW) * totp.STEP_SECONDS - time.time()
            raise CommandError(f"the codes of the next {int(wait) + 1} seconds are used already; try again then")
        self.stdout.write(totp.code_for(secret, now=step * totp.STEP_SECONDS))
