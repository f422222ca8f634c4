"""Django's ``flush`` with the audit guard lifted while it runs.

``flush`` empties every table at once; the append-only triggers would refuse that for the audit
tables (row DELETE on SQLite, TRUNCATE on PostgreSQL). Emptying the whole database is a
deliberate act by whoever runs this command (the test runner between transactional tests, or an
operator starting over), so the guard steps aside for it and is put back afterwards.
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands import flush
from django.db import connections

from ecabinet.audit import db_guard


class Command(flush.Command):
    def handle(self, **options: Any) -> None:
        connection = connections[options["database"]]
        with db_guard.lifted(connection):
            super().handle(**options)
