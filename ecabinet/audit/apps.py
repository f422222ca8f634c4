from typing import Any

from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate

GUARD_MIGRATION = "0003_checkpoint_append_only"


def _ensure_guards(sender: Any, using: str = "default", **kwargs: Any) -> None:
    from django.db.migrations.recorder import MigrationRecorder

    from ecabinet.audit import db_guard

    connection = connections[using]
    # Only where the migration that introduced the guard is applied (not after migrating back).
    if MigrationRecorder(connection).migration_qs.filter(app="audit", name=GUARD_MIGRATION).exists():
        db_guard.install(connection)


class AuditConfig(AppConfig):
    name = "ecabinet.audit"
    verbose_name = "Audit"

    def ready(self) -> None:
        # A migration that rebuilds an audit table on SQLite drops its triggers; put them back.
        post_migrate.connect(_ensure_guards, sender=self, dispatch_uid="ecabinet.audit.ensure_guards")
