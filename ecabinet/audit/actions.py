"""The one way into the audit log, and the only code that signs or exports it."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from ecabinet.audit import errors, events, signing
from ecabinet.audit.core import merkle, note
from ecabinet.audit.core.chain import GENESIS_HASH, EntryFields, canonical_json, normalise_details, normalise_ip
from ecabinet.audit.core.verify import LogVerifier, Report, check_checkpoint_note
from ecabinet.audit.filters import AuditFilter
from ecabinet.audit.models import AuditEntry, Checkpoint

log = logging.getLogger(__name__)

# Any fixed 64-bit numbers: the PostgreSQL advisory locks that serialise appends, and checkpoint
# makers, across processes.
_PG_LOCK_ID = 0x65CAB1AE7
_PG_CHECKPOINT_LOCK_ID = 0x65CAB1AE8

# Column widths (models.AuditEntry): longer text is cut before hashing, so SQLite (which would keep
# it) and PostgreSQL (which would refuse it) store and hash the same value.
_MAX = {"event": 80, "actor_label": 200, "object_type": 80, "object_id": 80}


def _pg_lock(lock_id: int) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_id])
    # SQLite: the project opens every transaction IMMEDIATE, so the write lock is already held.


def lock_chain() -> None:
    """Hold the append lock until the current transaction ends (call it inside ``transaction.atomic``).

    For a caller that must read something and append in one serialised step (a ballot: poll state,
    previous ballot, then the entry): it takes this lock, reads the last entry's seq and hash with
    its own rows in one query, and passes them to ``record(..., head=...)``.
    """
    _pg_lock(_PG_LOCK_ID)


def record(
    event: str,
    *,
    actor: Any = None,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str | int = "",
    source_ip: str | None = None,
    details: dict[str, Any] | None = None,
    head: tuple[int | None, str | None] | None = None,
) -> AuditEntry:
    """Append one entry to the audit chain, inside the caller's transaction if there is one.

    ``head``: the (seq, hash) of the last entry (both None for an empty log), read by a caller that
    holds ``lock_chain()`` in its open transaction; the entry then goes straight after it, with no
    savepoint, lock or read of its own (a wrong head would fork nothing: seq is unique).

    The entry commits or rolls back with the change it describes. Callers that must keep an entry
    for a refused request (a failed login) call this outside the transaction they roll back.

    Everything is normalised to what the database will give back (details through JSON, the
    address in one spelling, text cut to its column) before hashing, so that the hash computed
    now is the hash ``verify`` computes from the stored row on SQLite and on PostgreSQL alike.
    """
    if head is not None and not transaction.get_connection().in_atomic_block:
        raise ValueError("record(head=...) needs the caller's transaction that holds lock_chain()")
    with transaction.atomic(savepoint=head is None):
        if head is None:
            lock_chain()
            last = AuditEntry.objects.order_by("-seq").values_list("seq", "entry_hash").first()
            head = (None, None) if last is None else last
        entry = build_entry(event, after=head, actor=actor, obj=obj, object_type=object_type, object_id=object_id, source_ip=source_ip, details=details)
        entry.save(force_insert=True)
        return entry


def build_entry(
    event: str,
    *,
    after: tuple[int | None, str | None],
    actor: Any = None,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str | int = "",
    source_ip: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """The entry that goes straight after ``after`` (the head's seq and hash; both None for an
    empty log), hashed but not saved: for a caller holding ``lock_chain()`` that appends several
    entries with one insert (``rawsql.insert``), each built after the one before.
    ``record`` is this plus the lock, the read of the head, and the save.
    """
    if not event or len(event) > _MAX["event"]:
        raise ValueError(f"audit event {event!r} must be 1 to {_MAX['event']} characters")
    details = normalise_details(details)
    source_ip = normalise_ip(source_ip)
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
    actor_id = getattr(actor, "pk", None) if actor is not None and getattr(actor, "is_authenticated", False) else None
    actor_label = str(getattr(actor, "username", "")) if actor_id is not None else ""
    seq, prev_hash = (0, GENESIS_HASH) if after[0] is None else (after[0] + 1, str(after[1]))
    fields = EntryFields(
        seq=seq,
        prev_hash=prev_hash,
        created_at=timezone.now(),
        actor_id=actor_id,
        actor_label=actor_label[: _MAX["actor_label"]],
        event=event,
        object_type=str(object_type)[: _MAX["object_type"]],
        object_id=str(object_id)[: _MAX["object_id"]],
        source_ip=source_ip,
        details=details,
    )
    return AuditEntry.from_fields(fields)


# -- checkpoints ---------------------------------------------------------------------------------


def entries_from(seq: int, upto: int | None = None) -> Iterator[AuditEntry]:
    queryset = AuditEntry.objects.filter(seq__gte=seq).order_by("seq")
    if upto is not None:
        queryset = queryset.filter(seq__lt=upto)
    return queryset.iterator(chunk_size=2000)


def _resume_from(latest: Checkpoint | None, name: str, public_key: Any) -> tuple[merkle.CompactRange, str]:
    """The tree and chain state at the latest checkpoint, after checking it deserves trust."""
    if latest is None:
        return merkle.CompactRange(), GENESIS_HASH
    problems = [str(p) for p in check_checkpoint_note(latest.stored(), name=name, public_key=public_key)]
    if not latest.frontier:
        problems.append(f"the checkpoint of size {latest.size} has no stored compact range")
    head = AuditEntry.objects.filter(seq=latest.size - 1).first()
    if head is None or head.entry_hash != latest.head_hash or head.fields().entry_hash() != head.entry_hash:
        problems.append(f"entry #{latest.size - 1}, the last one the checkpoint of size {latest.size} covers, is missing or changed")
    if problems:
        raise errors.ChainBroken("; ".join(str(p) for p in problems))
    return merkle.CompactRange(latest.size, [bytes.fromhex(h) for h in latest.frontier]), latest.head_hash


def _make_checkpoint() -> tuple[Checkpoint | None, bool]:
    name = signing.signer_name()
    private_key = signing.private_key()
    public_key = private_key.public_key()
    with transaction.atomic():
        _pg_lock(_PG_CHECKPOINT_LOCK_ID)
        latest = Checkpoint.objects.order_by("-size").first()
        last = AuditEntry.objects.order_by("-seq").values_list("seq", "entry_hash").first()
        size = last[0] + 1 if last else 0
        if latest is not None and latest.size == size:
            return latest, False
        if size == 0:
            return None, False
        if latest is not None and latest.size > size:
            raise errors.ChainBroken(f"the log ends at #{size - 1} but the checkpoint of size {latest.size} signed more entries")
        tree, prev_hash = _resume_from(latest, name, public_key)
        # Check every new entry before signing it: never put the key to a log that is already broken.
        verifier = LogVerifier(name=name, public_key=public_key, start=tree, prev_hash=prev_hash, max_problems=1)
        for entry in entries_from(tree.size, size):
            verifier.feed(entry.stored())
        report = verifier.finish()
        if not report.ok or verifier.tree.size != size:
            problem = report.first_problem() or f"entries up to #{size - 1} are not all there"
            raise errors.ChainBroken(str(problem))
        root = verifier.tree.root()
        signed = note.sign_checkpoint(note.Checkpoint(origin=name, size=size, root=root), name, private_key)
        try:
            with transaction.atomic():
                checkpoint = Checkpoint.objects.create(
                    size=size,
                    root_hash=root.hex(),
                    origin=name,
                    key_id=note.key_hash(name, public_key).hex(),
                    note=signed,
                    frontier=[h.hex() for h in verifier.tree.hashes],
                    head_hash=verifier.prev_hash,
                )
        except IntegrityError:
            # Another process signed the same size between our read and our write.
            return Checkpoint.objects.get(size=size), False
    return checkpoint, True


def make_checkpoint(*, acting_user: Any = None, source_ip: str | None = None) -> tuple[Checkpoint | None, bool]:
    """Sign the log's current Merkle root, unless the latest checkpoint already covers every entry.

    Returns ``(checkpoint, created)``; ``(None, False)`` while the log is empty. Making a
    checkpoint writes no audit entry of its own (the checkpoint table is the record), or the log
    would never stop growing and no run would ever be idempotent. Refusing to make one does.
    """
    try:
        return _make_checkpoint()
    except errors.ChainBroken as exc:
        log.error("audit checkpoint refused: %s", exc.detail)
        record(events.AUDIT_CHECKPOINT_REFUSED, actor=acting_user, source_ip=source_ip, details={"problem": exc.detail[:500]})
        raise


# -- verification and export ----------------------------------------------------------------------


def record_verification(report: Report, *, acting_user: Any = None, source_ip: str | None = None, channel: str = "cli") -> AuditEntry:
    first = report.first_problem()
    return record(
        events.AUDIT_VERIFIED if report.ok else events.AUDIT_VERIFY_FAILED,
        actor=acting_user,
        source_ip=source_ip,
        details={
            "channel": channel,
            "entries": report.entries,
            "checkpoints": report.checkpoints,
            "first_bad_seq": report.first_bad_seq,
            "problem": str(first)[:500] if first else "",
            "problems": len(report.problems),
        },
    )


def entry_line(entry: AuditEntry) -> dict[str, Any]:
    return {"type": "entry", "entry": json.loads(entry.fields().canonical()), "entry_hash": entry.entry_hash}


def checkpoint_line(checkpoint: Checkpoint) -> dict[str, Any]:
    return {
        "type": "checkpoint",
        "size": checkpoint.size,
        "root_hash": checkpoint.root_hash,
        "origin": checkpoint.origin,
        "key_id": checkpoint.key_id,
        "created_at": checkpoint.created_at.isoformat(),
        "note": checkpoint.note,
    }


def export_log(*, acting_user: Any = None, source_ip: str | None = None, filters: AuditFilter | None = None, channel: str = "web") -> Iterator[bytes]:
    """Record the export, then the JSON lines: matching entries in seq order, then the checkpoints.

    The export covers the log as it was when asked for (up to ``through_seq``, which its own entry
    names), so an unfiltered export holds whole checkpoints and can be checked with no access
    to the database: ``canonical_json(line["entry"])`` hashes to ``line["entry_hash"]``.
    """
    filters = filters or AuditFilter()
    last = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first()
    through = -1 if last is None else last
    record(
        events.AUDIT_EXPORTED,
        actor=acting_user,
        source_ip=source_ip,
        details={"channel": channel, "filters": filters.as_details(), "through_seq": through},
    )
    entries = filters.apply(AuditEntry.objects.filter(seq__lte=through)).order_by("seq")
    checkpoints = Checkpoint.objects.filter(size__lte=through + 1).order_by("size")

    def lines() -> Iterator[bytes]:
        for entry in entries.iterator(chunk_size=2000):
            yield canonical_json(entry_line(entry)) + b"\n"
        for checkpoint in checkpoints.iterator(chunk_size=500):
            yield canonical_json(checkpoint_line(checkpoint)) + b"\n"

    return lines()
