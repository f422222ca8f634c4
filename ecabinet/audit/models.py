"""The append-only, hash-chained audit log and its signed checkpoints."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from ecabinet.audit.core.chain import EntryFields
from ecabinet.audit.core.verify import StoredCheckpoint, StoredEntry


class AuditEntry(models.Model):
    """One security-relevant event. Rows are only ever inserted, by ``audit.actions.record``.

    ``seq`` starts at 0 and has no gaps; ``prev_hash`` is the ``entry_hash`` of ``seq - 1``. Both
    are unique, so two writers can never fork the chain even if the lock were bypassed.
    """

    seq = models.BigIntegerField(unique=True)
    prev_hash = models.CharField(max_length=64, unique=True)
    entry_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(db_index=True)
    # The actor's id is part of the hashed entry and the table refuses UPDATE, so deleting a user
    # must leave the column alone: no database constraint, no SET NULL; actor_label keeps the name.
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
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

    @classmethod
    def from_fields(cls, fields: EntryFields) -> AuditEntry:
        """The unsaved row for ``fields``, with its hash: the inverse of ``fields()``."""
        return cls(
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

    def stored(self) -> StoredEntry:
        return StoredEntry(fields=self.fields(), entry_hash=self.entry_hash)


class Checkpoint(models.Model):
    """A signed statement of the log's Merkle root at ``size`` entries (C2SP tlog-checkpoint).

    ``note`` is the whole signed note; the other columns repeat what it says so they can be
    queried. ``frontier`` (the compact range at ``size``) and ``head_hash`` (the ``entry_hash`` of
    entry ``size - 1``) let the next checkpoint and the quick check start here instead of from
    entry 0; both are checked against the signed root before they are trusted.
    """

    size = models.BigIntegerField(unique=True)
    root_hash = models.CharField(max_length=64)
    origin = models.CharField(max_length=200)
    key_id = models.CharField(max_length=8, help_text="Signed-note key hash of the signing key, hex")
    note = models.TextField()
    frontier = models.JSONField(default=list, blank=True)
    head_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["size"]
        get_latest_by = "size"

    def __str__(self) -> str:
        return f"checkpoint {self.origin} @ {self.size}"

    def stored(self) -> StoredCheckpoint:
        return StoredCheckpoint(
            size=self.size,
            root_hash=self.root_hash,
            origin=self.origin,
            note=self.note,
            frontier=list(self.frontier),
            head_hash=self.head_hash,
        )
