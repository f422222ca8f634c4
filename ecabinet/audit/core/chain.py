"""The audit hash chain, without Django: canonical bytes of an entry and the hashes over them.

An entry's canonical bytes are JSON with sorted keys, no spaces, UTF-8 (the RFC 8785 shape for
the strings and integers entries hold). ``entry_hash = SHA-256(canonical)``; the Merkle leaf hash
is ``SHA-256(0x00 || canonical)`` as RFC 6962 defines it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class EntryFields:
    seq: int
    prev_hash: str
    created_at: datetime
    actor_id: int | None
    actor_label: str
    event: str
    object_type: str
    object_id: str
    source_ip: str | None
    details: dict[str, Any]

    def canonical(self) -> bytes:
        return canonical_json(
            {
                "seq": self.seq,
                "prev": self.prev_hash,
                "time": format_time(self.created_at),
                "actor": self.actor_id,
                "actor_label": self.actor_label,
                "event": self.event,
                "object_type": self.object_type,
                "object_id": self.object_id,
                "ip": self.source_ip,
                "details": self.details,
            }
        )

    def entry_hash(self) -> str:
        return hashlib.sha256(self.canonical()).hexdigest()
