"""What someone with database administrator rights can do to the audit tables.

Each helper goes around the application the way such a person would: first the append-only
triggers are switched off (``ALTER TABLE … DISABLE TRIGGER`` on PostgreSQL, ``DROP TRIGGER`` on
SQLite), then rows are changed directly. Inside a test's transaction all of it, the trigger
change included, rolls back when the test ends.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

from django.db import connection
from django.db.models import F

from ecabinet.audit import db_guard
from ecabinet.audit.models import AuditEntry, Checkpoint


def disable_guards() -> None:
    with connection.cursor() as cursor:
        for table in db_guard.TABLES:
            if connection.vendor == "postgresql":
                cursor.execute(f'ALTER TABLE "{table}" DISABLE TRIGGER USER')
            else:
                for name in db_guard.trigger_names(table, connection.vendor):
                    cursor.execute(f'DROP TRIGGER "{name}"')


def modify_details(seq: int, details: dict[str, Any]) -> None:
    AuditEntry.objects.filter(seq=seq).update(details=details)


def delete(seq: int) -> None:
    AuditEntry.objects.filter(seq=seq).delete()


def swap(seq_a: int, seq_b: int) -> None:
    # Through a free number, because seq is unique.
    AuditEntry.objects.filter(seq=seq_a).update(seq=-1)
    AuditEntry.objects.filter(seq=seq_b).update(seq=seq_a)
    AuditEntry.objects.filter(seq=-1).update(seq=seq_b)


def insert_forged(at: int) -> None:
    """Make room at ``at`` by renumbering the rest, and put a forged entry that hashes correctly there."""
    AuditEntry.objects.filter(seq__gte=at).update(seq=-(F("seq") + 1))
    AuditEntry.objects.filter(seq__lt=0).update(seq=-F("seq"))
    template = AuditEntry.objects.get(seq=at - 1).fields()
    # prev_hash is a unique column and the entry now at at + 1 holds the honest link, so the
    # forger has to point somewhere else.
    forged = dataclasses.replace(template, seq=at, prev_hash=hashlib.sha256(b"forged").hexdigest(), event="forged.event")
    AuditEntry.from_fields(forged).save(force_insert=True)


def rewrite_from(seq: int, details: dict[str, Any]) -> None:
    """Change entry ``seq`` and re-hash it and every later entry, so the chain links again."""
    entries = list(AuditEntry.objects.filter(seq__gte=seq - 1).order_by("seq")) if seq else [None, *AuditEntry.objects.order_by("seq")]
    prev_hash = entries[0].entry_hash if entries[0] is not None else "0" * 64
    for entry in entries[1:]:
        assert entry is not None
        fields = entry.fields()
        changed = dataclasses.replace(fields, prev_hash=prev_hash, details=details if entry.seq == seq else fields.details)
        AuditEntry.objects.filter(pk=entry.pk).update(prev_hash=changed.prev_hash, entry_hash=changed.entry_hash(), details=changed.details)
        prev_hash = changed.entry_hash()


def forge_checkpoint_root(size: int) -> None:
    Checkpoint.objects.filter(size=size).update(root_hash=hashlib.sha256(b"other root").hexdigest())
