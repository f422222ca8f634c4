"""Request and response bodies of the live-session API (``meetings.live_api``)."""

from __future__ import annotations

from typing import Literal

from ninja import Schema
from pydantic import Field

from ecabinet.identity.schemas import Input


class CheckInIn(Input):
    """Omit ``user_id`` to check oneself in; name someone to mark them (chair or office secretary)."""

    user_id: int | None = Field(default=None, ge=1)
    mode: Literal["in_room", "remote", "substitute"] = "in_room"
    substitute_for: int | None = Field(default=None, ge=1, description="the absent voting member a substitute sits for")


class CheckOutIn(Input):
    user_id: int | None = Field(default=None, ge=1)


class PersonOut(Schema):
    id: int
    name: str
    title: str


class ItemTimerOut(Schema):
    id: int
    order: int
    title: str
    kind: str
    classification: int
    outcome: str
    planned_minutes: int
    started_at: str | None
    ended_at: str | None
    running: bool
    actual_seconds: int | None
    overrun: bool


class SpeakerOut(Schema):
    id: int
    n: int
    user: PersonOut
    state: str
    requested_at: str
    granted_at: str | None
    ended_at: str | None
    time_limit_seconds: int


class PresentOut(Schema):
    id: int
    user: PersonOut
    mode: str
    substitute_for: PersonOut | None
    voting: bool
    checked_in_at: str


class QuorumRuleOut(Schema):
    numerator: int
    denominator: int
    strictly_more: bool
    remote_counts: bool
    substitutes_count: bool


class QuorumOut(Schema):
    voting_members: int
    present: int
    required: int
    reached: bool
    rule: QuorumRuleOut


class AttendanceOut(Schema):
    present: list[PresentOut]
    quorum: QuorumOut


class LiveMeetingOut(Schema):
    id: int
    title: str
    state: str
    classification: int
    opened_at: str | None
    adjourned_at: str | None
    closed_at: str | None
    allow_substitutes: bool


class YouOut(Schema):
    id: int
    name: str
    can_run_session: bool
    can_attend: bool
    checked_in: str | None
    may_request_floor: list[int]


class SnapshotOut(Schema):
    type: str
    now: str
    meeting: LiveMeetingOut
    items: list[ItemTimerOut]
    running_item: ItemTimerOut | None
    attendance: AttendanceOut | None = Field(description="null for a guest below the meeting's classification")
    speakers: dict[str, list[SpeakerOut]]
    speaking_seconds: int
    you: YouOut
