from __future__ import annotations

from datetime import date, datetime
from typing import Any

from ninja import Schema
from pydantic import Field


class EntryFilterIn(Schema):
    event: str = Field("", max_length=200, description="An event, or a prefix such as identity.login for all its sub-events")
    actor: str = Field("", max_length=200, description="Part of the actor's user name or full name")
    object_type: str = Field("", max_length=200, description="e.g. identity.user")
    object_id: str = Field("", max_length=200)
    date_from: date | None = Field(None, description="First day included (server time zone)")
    date_to: date | None = Field(None, description="Last day included (server time zone)")
    q: str = Field("", max_length=200, description="Text to look for in the details")


class EntryOut(Schema):
    seq: int
    created_at: datetime
    actor_id: int | None
    actor_label: str
    event: str
    object_type: str
    object_id: str
    source_ip: str | None
    details: dict[str, Any]
    prev_hash: str
    entry_hash: str


class CheckpointOut(Schema):
    size: int
    root_hash: str
    origin: str
    key_id: str
    created_at: datetime
    note: str


class ProofOut(Schema):
    format: str
    seq: int
    leaf_index: int
    entry: str = Field(description="The entry's canonical JSON text, exactly the bytes hashed")
    entry_hash: str
    leaf_hash: str
    tree_size: int
    root: str
    audit_path: list[str]
    origin: str
    checkpoint: str = Field(description="The signed checkpoint note (C2SP tlog-checkpoint)")


class StatusOut(Schema):
    ok: bool
    quick: bool
    entries_checked: int
    latest_checkpoint_size: int | None
    first_bad_seq: int | None
    problems: list[str]
    missing_guards: list[str]


class PublicKeyOut(Schema):
    pem: str
    verifier_key: str
    origin: str
