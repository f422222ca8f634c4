"""Inclusion proofs of stored entries against signed checkpoints."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ecabinet.audit import errors, signing
from ecabinet.audit.actions import entries_from
from ecabinet.audit.core import merkle, note, proof
from ecabinet.audit.models import AuditEntry, Checkpoint


def leaf_hashes(upto: int) -> Iterator[bytes]:
    for entry in entries_from(0, upto):
        yield entry.fields().leaf_hash()


def inclusion_bundle(seq: int, checkpoint: Checkpoint | None = None) -> dict[str, Any]:
    """The proof that entry ``seq`` is in the tree the (latest) checkpoint signed, checked before it leaves."""
    entry = AuditEntry.objects.filter(seq=seq).first()
    if entry is None:
        raise errors.EntryNotFound(f"There is no audit entry #{seq}.")
    checkpoint = checkpoint or Checkpoint.objects.order_by("-size").first()
    if checkpoint is None:
        raise errors.NoCheckpoint()
    if seq >= checkpoint.size:
        raise errors.NotYetCheckpointed(f"Entry #{seq} is newer than the latest checkpoint, which covers #0..#{checkpoint.size - 1}.")
    path = merkle.hash_ranges(merkle.inclusion_ranges(seq, checkpoint.size), leaf_hashes(checkpoint.size))
    bundle = proof.build(
        entry_canonical=entry.fields().canonical(),
        seq=seq,
        tree_size=checkpoint.size,
        audit_path=path,
        checkpoint_note=checkpoint.note,
        origin=checkpoint.origin,
    )
    try:
        proof.check(bundle, signing.public_key(), origin=signing.signer_name())
    except (merkle.ProofError, note.NoteError) as exc:
        # The stored log no longer hashes to what was signed: a proof would be false. Say why instead.
        raise errors.ChainBroken(f"No valid proof for #{seq}: {exc}. Run 'ecabinet audit verify'.")
    return bundle
