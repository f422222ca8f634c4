from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ecabinet.identity import actions
from ecabinet.identity.core import totp
from ecabinet.identity.models import User


class Command(BaseCommand):
    help = "Print the current one-time code of a demo user. Refused in production mode."

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
        self.stdout.write(totp.code_for(secret))
