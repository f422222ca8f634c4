from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Schema
from pydantic import Field

from ecabinet.identity.schemas import Input


class AlertOut(Schema):
    id: int
    kind: str
    severity: str
    summary: str
    object_type: str
    object_id: str
    details: dict[str, Any]
    created_at: datetime
    acknowledged_by_id: int | None
    acknowledged_at: datetime | None
    acknowledgement_note: str


class AcknowledgeIn(Input):
    note: str = Field(default="", max_length=2000)


class ScannerOut(Schema):
    ok: bool
    yara: dict[str, Any]
    clamd: dict[str, Any]
