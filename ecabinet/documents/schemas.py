from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from ninja import Schema
from pydantic import Field

from ecabinet.identity.schemas import Input

Level = Literal["public", "internal", "confidential", "secret", "top_secret"]
Kind = Literal[
    "proposal",
    "draft_decree",
    "draft_resolution",
    "draft_law",
    "draft_decision",
    "report",
    "official_letter",
    "appraisal",
    "annex",
    "presentation",
    "other",
]


class DocumentIn(Input):
    """Form fields sent with the file when a new document is uploaded."""

    title: str = Field(min_length=1, max_length=500)
    kind: Kind = "other"
    number_symbol: str = Field(default="", max_length=100)
    issuing_body: str = Field(default="", max_length=300)
    issued_on: date | None = None
    signer: str = Field(default="", max_length=200)
    language: Literal["vi", "en", "fr"] = "vi"
    classification: Level = "internal"
    owner_organisation_id: int | None = None
    meeting_id: int | None = None
    item_id: int | None = None


class VersionIn(Input):
    change_note: str = Field(default="", max_length=2000)


class VersionOut(Schema):
    id: int
    document_id: int
    number: int
    filename: str
    change_note: str
    uploaded_by: str
    uploaded_at: datetime
    size: int
    state: str
    state_reason: str
    state_message: str
    detected_type: str
    mime_type: str
    sha256: str
    page_count: int | None
    disarm_removed: list[str]
    findings: list[dict[str, str]]
    changed_after_publication: bool
    content_url: str | None


class DocumentOut(Schema):
    id: int
    title: str
    number_symbol: str
    kind: str
    issuing_body: str
    issued_on: date | None
    signer: str
    language: str
    classification: str
    owner_organisation_id: int
    created_at: datetime
    current_version: VersionOut | None
    latest_version: VersionOut | None
    newer_version_status: Literal["checking", "refused"] | None = Field(
        description="The newest version is not the current one: still being checked, or refused by the security check (no details)"
    )


class DocumentDetailOut(DocumentOut):
    versions: list[VersionOut]


class LinkIn(Input):
    meeting_id: int
    item_id: int | None = None
    order: int | None = Field(default=None, ge=0)


class DossierEntryOut(Schema):
    id: int
    meeting_id: int
    item_id: int | None
    document_id: int
    title: str
    order: int
    frozen_version_id: int | None
    current_version_id: int | None
    changed_after_publication: bool
    newer_version_status: Literal["checking", "refused"] | None


class PolicyOut(Schema):
    organisation_id: int
    max_electronic_level: str


class PolicyIn(Input):
    max_electronic_level: Level


class RegistryIn(Input):
    number_symbol: str = Field(min_length=1, max_length=100)
    title: str = Field(min_length=1, max_length=500)
    classification: Level
    custodian_id: int
    copies_total: int = Field(default=1, ge=1, le=10000)
    organisation_id: int | None = None
    meeting_id: int | None = None
    item_id: int | None = None
    notes: str = Field(default="", max_length=5000)


class RegistryPatch(Input):
    number_symbol: str | None = Field(default=None, min_length=1, max_length=100)
    title: str | None = Field(default=None, min_length=1, max_length=500)
    custodian_id: int | None = None
    copies_total: int | None = Field(default=None, ge=1, le=10000)
    notes: str | None = Field(default=None, max_length=5000)


class MovementIn(Input):
    kind: Literal["handed_out", "returned"]
    copy_number: int = Field(ge=1)
    holder_id: int
    note: str = Field(default="", max_length=500)


class MovementOut(Schema):
    id: int
    kind: str
    copy_number: int
    holder_id: int
    at: datetime
    recorded_by_id: int
    note: str


class RegistryOut(Schema):
    id: int
    organisation_id: int
    number_symbol: str
    title: str
    classification: str
    custodian_id: int
    copies_total: int
    copies_out: list[int]
    meeting_id: int | None
    item_id: int | None
    notes: str
    created_at: datetime
    closed_at: datetime | None
    movements: list[MovementOut]
