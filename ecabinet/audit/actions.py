"""The one way into the audit log."""

from __future__ import annotations

import logging
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from ecabinet.audit.core.chain import GENESIS_HASH, EntryFields, canonical_json
from ecabinet.audit.models import AuditEntry

log = logging.getLogger(__name__)

# Any fixed 64-bit number: the PostgreSQL advisory lock that serialises appends across processes.
_PG_LOCK_ID = 0x65CAB1AE7


def _lock_chain() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PG_LOCK_ID])
    # SQLite: the project opens every transaction IMMEDIATE, so the write lock is already held.


def record(
    event: str,
    *,
    actor: Any = None,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str | int = "",
    source_ip: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry to the audit chain, inside the caller's transaction if there is one.

    The entry commits or rolls back with the change it describes. Callers that must keep an entry
    for a refused request (a failed login) call this outside the transaction they roll back.
    """
    details = details or {}
    canonical_json(details)  # refuse what cannot be hashed before taking the lock
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
    actor_id = getattr(actor, "pk", None) if actor is not None and getattr(actor, "is_authenticated", False) else None
    actor_label = str(getattr(actor, "username", "")) if actor_id is not None else ""
    with transaction.atomic():
        _lock_chain()
        last = AuditEntry.objects.order_by("-seq").values_list("seq", "entry_hash").first()
        seq, prev_hash = (last[0] + 1, last[1]) if last else (0, GENESIS_HASH)
        fields = EntryFields(
            seq=seq,
            prev_hash=prev_hash,
            created_at=timezone.now(),
            actor_id=actor_id,
            actor_label=actor_label,
            event=event,
            object_type=object_type,
            object_id=str(object_id),
            source_ip=source_ip or None,
            details=details,
        )
        return AuditEntry.objects.create(
            seq=fields.seq,
            prev_hash=fields.prev_hash,
            entry_hash=fields.entry_hash(),
            created_at=fields.created_at,
            actor_id=fields.actor_id,
            actor_label=fields.actor_label,
            event=fields.event,
            object_type=fields.object_type,
            object_id=fields.object_id,
            source_ip=fields.source_ip,
            details=fields.details,
        )
