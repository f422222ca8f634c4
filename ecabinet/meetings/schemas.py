"""Request and response bodies of the meetings API (lifecycle, agenda, positions, consent, calendar)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from ninja import Schema
from pydantic import ConfigDict, Field

Level = Literal["public", "internal", "confidential", "secret", "top_secret"]
MeetingKind = Literal["regular", "extraordinary", "thematic"]
ItemKind = Literal["information", "discussion", "decision"]
Visibility = Literal["all", "chair"]
Stance = Literal["agree", "agree_with_comments", "object", "abstain", "wish_to_speak"]


class Input(Schema):
    """Every request body refuses unknown fields, so a typo is an error, not a silent no-op."""

    model_config = ConfigDict(extra="forbid")


class PersonOut(Schema):
    id: int
    full_name: str
    title: str
    role: str


class ParticipantOut(Schema):
    user: PersonOut
    kind: str


class MeetingIn(Input):
    title: str = Field(min_length=1, max_length=300)
    starts_at: datetime
    planned_end: datetime
    chair_id: int
    kind: MeetingKind = "regular"
    place: str = Field(default="", max_length=200)
    online_link: str = Field(default="", max_length=200, pattern=r"^(https://\S+)?$")
    classification: Level = "internal"
    positions_deadline: datetime | None = None
    positions_visibility: Visibility = "all"
    allow_substitutes: bool = True


class MeetingPatch(Input):
    """Only the fields sent change. ``version`` (or an If-Match header) names the version edited."""

    version: int | None = Field(default=None, ge=1)
    title: str | None = Field(default=None, min_length=1, max_length=300)
    starts_at: datetime | None = None
    planned_end: datetime | None = None
    kind: MeetingKind | None = None
    place: str | None = Field(default=None, max_length=200)
    online_link: str | None = Field(default=None, max_length=200, pattern=r"^(https://\S+)?$")
    classification: Level | None = None
    positions_deadline: datetime | None = None
    positions_visibility: Visibility | None = None
    allow_substitutes: bool | None = None


class MeetingOut(Schema):
    id: int
    organisation_id: int
    kind: str
    title: str
    starts_at: datetime
    planned_end: datetime
    place: str
    online_link: str
    chair: PersonOut
    classification: str
    state: str
    positions_deadline: datetime | None
    positions_visibility: str
    allow_substitutes: bool
    version: int
    dossier_published_at: datetime | None
    consent_proposed_at: datetime | None
    consent_confirmed_at: datetime | None
    opened_at: datetime | None
    adjourned_at: datetime | None
    closed_at: datetime | None
    cancelled_at: datetime | None


class ItemOut(Schema):
    id: int
    meeting_id: int
    order: int
    title: str
    summary: str
    presenting_org_id: int | None
    presenter: PersonOut | None
    planned_minutes: int
    kind: str
    classification: str
    status: str
    outcome: str
    document_refs: list[str]
    proposed_by: PersonOut
    proposed_at: datetime
    review_comment: str
    in_consent_block: bool
    started_at: datetime | None
    ended_at: datetime | None
    version: int
    guests: list[PersonOut]


class MeetingDetailOut(MeetingOut):
    participants: list[ParticipantOut]
    items: list[ItemOut] = Field(description="the items the caller may see: the agenda, and proposals for secretaries and their proposers")
    can_manage: bool


class VersionIn(Input):
    version: int | None = Field(default=None, ge=1)


class ParticipantIn(Input):
    user_id: int
    kind: Literal["member", "guest", "secretary"] | None = None


class ItemIn(Input):
    title: str = Field(min_length=1, max_length=400)
    summary: str = Field(default="", max_length=20000)
    presenting_org_id: int | None = None
    presenter_id: int | None = None
    planned_minutes: int = Field(default=15, ge=1, le=600)
    kind: ItemKind = "decision"
    classification: Level | None = Field(default=None, description="defaults to the meeting's")
    document_refs: list[str] = Field(default_factory=list, max_length=100)


class ItemPatch(Input):
    version: int | None = Field(default=None, ge=1)
    title: str | None = Field(default=None, min_length=1, max_length=400)
    summary: str | None = Field(default=None, max_length=20000)
    presenting_org_id: int | None = None
    presenter_id: int | None = None
    planned_minutes: int | None = Field(default=None, ge=1, le=600)
    kind: ItemKind | None = None
    classification: Level | None = None
    document_refs: list[str] | None = Field(default=None, max_length=100)


class ReviewIn(Input):
    decision: Literal["accept", "return", "reject"]
    comment: str = Field(default="", max_length=4000)
    version: int | None = Field(default=None, ge=1)


class ReorderIn(Input):
    item_ids: list[int] = Field(max_length=500)
    version: int | None = Field(default=None, ge=1)


class GuestIn(Input):
    user_id: int


class PositionIn(Input):
    stance: Stance
    comment: str = Field(default="", max_length=4000)


class PositionOut(Schema):
    item_id: int
    user: PersonOut
    stance: str
    comment: str
    updated_at: datetime


class ItemPositionsOut(Schema):
    item_id: int
    expected: int
    answered: int
    deadline: datetime | None
    positions: list[PositionOut] = Field(description="every position if the meeting lets the caller see them, else only the caller's own")
    missing: list[PersonOut] | None = Field(description="who has not answered; only for the chair and the secretaries running the meeting")


class MissingItemOut(Schema):
    item_id: int
    title: str
    expected: int
    missing: list[PersonOut]


class ConsentOut(Schema):
    proposed_at: datetime | None
    confirmed_at: datetime | None
    items: list[ItemOut]


class DecisionOut(Schema):
    item_id: int
    text: str
    by_consent: bool
    decided_at: datetime


class FeedOut(Schema):
    id: int
    created_at: datetime
    revoked_at: datetime | None


class FeedCreatedOut(FeedOut):
    url: str = Field(description="the secret feed URL; shown only now")
