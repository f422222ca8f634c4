from typing import Any

from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate


def _ensure_guards(sender: Any, using: str = "default", **kwargs: Any) -> None:
    from ecabinet.audit import db_guard

    db_guard.install(connections[using])


class AuditConfig(AppConfig):
    name = "ecabinet.audit"
    verbose_name = "Audit"

    def ready(self) -> None:
        # A migration that rebuilds an audit table on SQLite drops its triggers; put them back.
        post_migrate.connect(_ensure_guards, sender=self, dispatch_uid="ecabinet.audit.ensure_guards")
