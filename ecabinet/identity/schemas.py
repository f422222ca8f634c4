from __future__ import annotations

from datetime import datetime
from typing import Literal

from ninja import Schema
from pydantic import ConfigDict, Field


class Input(Schema):
    """Every request body refuses unknown fields, so a typo is an error, not a silent no-op."""

    model_config = ConfigDict(extra="forbid")


class TokenIn(Input):
    username: str = Field(min_length=1, max_length=150)
    password: str = Field(min_length=1, max_length=1024)
    totp: str | None = Field(default=None, max_length=16)
    device_name: str = Field(min_length=1, max_length=120)


class OrganisationOut(Schema):
    id: int
    name: str
    short_name: str
    kind: str
    parent_id: int | None


class UserOut(Schema):
    id: int
    username: str
    full_name: str
    title: str
    role: str
    clearance: str
    organisation: OrganisationOut | None
    is_active: bool
    mfa_enrolled: bool
    language: str


class TokenOut(Schema):
    token: str
    device_id: int
    expires_at: datetime
    user: UserOut


class DeviceOut(Schema):
    id: int
    name: str
    kind: str
    created_at: datetime
    last_seen_at: datetime | None
    revoked_at: datetime | None


class SessionOut(Schema):
    id: int
    created_at: datetime
    last_seen_at: datetime
    ended_at: datetime | None
    source_ip: str | None
    user_agent: str
    current: bool


class RoleIn(Input):
    role: Literal["chair", "member", "secretary", "guest", "security_officer", "admin"]


class ClearanceIn(Input):
    clearance: Literal["public", "internal", "confidential", "secret", "top_secret"]


class UnlockIn(Input):
    username: str = Field(min_length=1, max_length=200)


class ThrottleOut(Schema):
    scope: str
    key: str
    failures: int
    last_failure_at: datetime | None
    next_allowed_at: datetime | None
    locked_at: datetime | None


class CountOut(Schema):
    count: int
