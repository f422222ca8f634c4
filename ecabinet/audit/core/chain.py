"""The audit hash chain, without Django: canonical bytes of an entry and the hashes over them.

An entry's canonical bytes are JSON with sorted keys, no spaces, UTF-8 (the RFC 8785 shape for
the strings and integers entries hold). ``entry_hash = SHA-256(canonical)``; the Merkle leaf hash
is ``SHA-256(0x00 || canonical)`` as RFC 6962 defines it.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ecabinet.audit.core import merkle

GENESIS_HASH = "0" * 64


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def _check_value(value: Any, where: str) -> None:
    # Floats do not survive every database unchanged (PostgreSQL jsonb prints 1e+16 as an integer),
    # and jsonb refuses NUL; either would make a stored entry hash differently from the one written.
    if isinstance(value, float):
        raise ValueError(f"audit details hold no floating-point numbers ({where}); write them as strings")
    if isinstance(value, str) and "\x00" in value:
        raise ValueError(f"audit details hold no NUL characters ({where})")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_value(key, where)
            _check_value(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_value(item, f"{where}[{i}]")


def normalise_details(details: dict[str, Any] | None) -> dict[str, Any]:
    """The details exactly as they will read back from the database, or ``ValueError``."""
    if details is None:
        return {}
    if not isinstance(details, dict):
        raise ValueError("audit details are a JSON object")
    value = json.loads(canonical_json(details))
    _check_value(value, "details")
    return value  # type: ignore[no-any-return]


def normalise_ip(address: str | None) -> str | None:
    """One spelling per address, the one PostgreSQL's inet prints (IPv4-mapped IPv6 as IPv4)."""
    if not address:
        return None
    # A zone index (fe80::1%eth0) names an interface of this host, not a client; inet refuses it.
    parsed = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    return str(parsed)


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

    def leaf_hash(self) -> bytes:
        """This entry's leaf in the RFC 6962 Merkle tree that checkpoints sign."""
        return merkle.leaf_hash(self.canonical())
