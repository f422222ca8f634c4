"""An inclusion proof bundle for one audit entry, checked offline without Django.

The bundle is plain JSON so a third party can check it with any SHA-256 and Ed25519 tool (see
docs/audit.md): the entry's canonical bytes, its leaf hash, the audit path to the root of a
tree of ``tree_size`` leaves, and the signed checkpoint that commits to that root.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ecabinet.audit.core import merkle, note

FORMAT = "ecabinet-audit-inclusion-proof/1"


@dataclass(frozen=True)
class CheckedProof:
    seq: int
    tree_size: int
    root: bytes
    origin: str
    entry: dict[str, Any]


def build(*, entry_canonical: bytes, seq: int, tree_size: int, audit_path: list[bytes], checkpoint_note: str, origin: str) -> dict[str, Any]:
    leaf = merkle.leaf_hash(entry_canonical)
    root = merkle.root_from_inclusion_proof(seq, tree_size, leaf, audit_path)
    return {
        "format": FORMAT,
        "seq": seq,
        "leaf_index": seq,
        "entry": entry_canonical.decode("utf-8"),
        "entry_hash": hashlib.sha256(entry_canonical).hexdigest(),
        "leaf_hash": leaf.hex(),
        "tree_size": tree_size,
        "root": root.hex(),
        "audit_path": [h.hex() for h in audit_path],
        "origin": origin,
        "checkpoint": checkpoint_note,
    }


def _hex(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise merkle.ProofError(f"{what} must be a hex string")
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise merkle.ProofError(f"{what} is not hex")
    if len(raw) != merkle.HASH_SIZE:
        raise merkle.ProofError(f"{what} is not 32 bytes")
    return raw


def _int(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise merkle.ProofError(f"{what} must be a non-negative integer")
    return value


def check(bundle: Any, public_key: Ed25519PublicKey, *, origin: str | None = None) -> CheckedProof:
    """Every claim in the bundle, or ``ProofError``/``NoteError`` naming the first that fails."""
    if not isinstance(bundle, dict) or bundle.get("format") != FORMAT:
        raise merkle.ProofError(f"not an {FORMAT} document")
    seq = _int(bundle.get("seq"), "seq")
    if _int(bundle.get("leaf_index"), "leaf_index") != seq:
        raise merkle.ProofError("the leaf index of an audit entry is its seq")
    size = _int(bundle.get("tree_size"), "tree_size")
    entry_text = bundle.get("entry")
    if not isinstance(entry_text, str):
        raise merkle.ProofError("entry must be the entry's canonical JSON text")
    canonical = entry_text.encode("utf-8")
    try:
        entry = json.loads(entry_text)
    except ValueError:
        raise merkle.ProofError("entry is not JSON")
    if not isinstance(entry, dict) or entry.get("seq") != seq:
        raise merkle.ProofError("the entry's own seq differs from the proof's seq")
    leaf = merkle.leaf_hash(canonical)
    if _hex(bundle.get("leaf_hash"), "leaf_hash") != leaf:
        raise merkle.ProofError("leaf_hash is not SHA-256(0x00 || entry)")
    path = bundle.get("audit_path")
    if not isinstance(path, list):
        raise merkle.ProofError("audit_path must be a list of hex hashes")
    root = merkle.root_from_inclusion_proof(seq, size, leaf, [_hex(h, "audit_path item") for h in path])
    if _hex(bundle.get("root"), "root") != root:
        raise merkle.ProofError("the audit path does not lead to the stated root")
    name = origin or bundle.get("origin")
    if not isinstance(name, str):
        raise merkle.ProofError("origin is missing")
    note_text = bundle.get("checkpoint")
    if not isinstance(note_text, str):
        raise merkle.ProofError("checkpoint must be the signed checkpoint note")
    signed = note.open_checkpoint(note_text, name, public_key)
    if signed.origin != name:
        raise merkle.ProofError(f"the checkpoint is for origin {signed.origin!r}, not {name!r}")
    if signed.size != size or signed.root != root:
        raise merkle.ProofError("the signed checkpoint commits to a different tree size or root")
    return CheckedProof(seq=seq, tree_size=size, root=root, origin=name, entry=entry)
