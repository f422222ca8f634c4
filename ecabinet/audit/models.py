"""The append-only, hash-chained audit log and its signed checkpoints."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from ecabinet.audit.core.chain import EntryFields


class AuditEntry(models.Model):
    """One security-relevant event. Rows are only ever inserted, by ``audit.actions.record``.

    ``seq`` starts at 0 and has no gaps; ``prev_hash`` is the ``entry_hash`` of ``seq - 1``. Both
    are unique, so two writers can never fork the chain even if the lock were bypassed.
    """

    seq = models.BigIntegerField(unique=True)
    prev_hash = models.CharField(max_length=64, unique=True)
    entry_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_label = models.CharField(max_length=200, blank=True)
    event = models.CharField(max_length=80, db_index=True)
    object_type = models.CharField(max_length=80, blank=True)
    object_id = models.CharField(max_length=80, blank=True)
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["seq"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"#{self.seq} {self.event}"

    def fields(self) -> EntryFields:
        return EntryFields(
            seq=self.seq,
            prev_hash=self.prev_hash,
            created_at=self.created_at,
            actor_id=self.actor_id,
            actor_label=self.actor_label,
            event=self.event,
            object_type=self.object_type,
            object_id=self.object_id,
            source_ip=self.source_ip,
            details=self.details,
        )
