from __future__ import annotations

import getpass
import os
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from ecabinet.identity import actions
from ecabinet.identity.models import Clearance, Organisation, Role, User


class Command(BaseCommand):
    help = "Create an administrator. They set up their authenticator at their first sign-in in the browser."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--username", required=True)
        parser.add_argument("--full-name", default="")
        parser.add_argument("--email", default="")
        parser.add_argument("--organisation", default="", help="name of the government (created if missing)")
        parser.add_argument("--password-env", default="ECABINET_ADMIN_PASSWORD", help="read the password from this variable instead of asking")

    def handle(self, *args: Any, **options: Any) -> None:
        username = options["username"]
        if User.objects.filter(username=username).exists():
            raise CommandError(f"a user named {username!r} already exists")
        password = os.environ.get(options["password_env"]) or getpass.getpass("Password: ")
        try:
            validate_password(password, User(username=username))
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        org = None
        if options["organisation"]:
            org = Organisation.objects.filter(name=options["organisation"]).first() or actions.create_organisation(
                name=options["organisation"], kind=Organisation.Kind.GOVERNMENT
            )
        actions.create_user(
            username=username,
            password=password,
            role=Role.ADMIN,
            organisation=org,
            full_name=options["full_name"],
            email=options["email"],
            clearance=Clearance.INTERNAL,
        )
        self.stdout.write(self.style.SUCCESS(f"Administrator {username} created; sign in at /login/ to set up the authenticator."))
