"""The ballot a member signs, and the poll statement whose hash it names.

A ballot is the RFC 8785 canonical JSON of::

    {"certificate_sha256": "<SHA-256 of the signer's DER certificate, hex>",
     "choice": "<option key>",
     "client_time": "<the device's clock, ISO 8601 UTC>",
     "format": "ecabinet-ballot/1",
     "nonce": "<16-64 characters [A-Za-z0-9_-], fresh per ballot>",
     "poll": <poll id>,
     "question_sha256": "<SHA-256 of the poll statement's canonical JSON, hex>",
     "voter": <the member's user id>}

signed with ECDSA P-256/SHA-256 over exactly those bytes. The question hash binds the signature to
the question and options the member saw: a ballot for a changed question does not verify against
the poll. The nonce makes every ballot distinct, so a captured ballot cannot be submitted twice.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ecabinet.voting.core.canonical import CanonicalError, canonicalize, parse_canonical
from ecabinet.voting.core.errors import BallotMalformed

BALLOT_FORMAT = "ecabinet-ballot/1"
POLL_FORMAT = "ecabinet-poll/1"
MAX_BALLOT_BYTES = 4096
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")
FIELDS = frozenset({"format", "poll", "question_sha256", "voter", "certificate_sha256", "choice", "nonce", "client_time"})


@dataclass(frozen=True)
class Option:
    key: str
    label: str


def poll_statement(
    *,
    poll_id: int,
    question: str,
    options: Sequence[Option],
    rule: str,
    quorum: tuple[int, int],
    allow_change: bool,
    meeting_id: int | None,
    item_id: int | None,
) -> dict[str, Any]:
    """What a voter is asked: fixed when the poll is created and hashed into every ballot."""
    return {
        "format": POLL_FORMAT,
        "poll": poll_id,
        "question": question,
        "options": [{"key": o.key, "label": o.label} for o in options],
        "rule": rule,
        "quorum": [quorum[0], quorum[1]],
        "allow_change": allow_change,
        "roll_call": True,
        "meeting": meeting_id,
        "item": item_id,
    }


def statement_sha256(statement: dict[str, Any]) -> str:
    return hashlib.sha256(canonicalize(statement)).hexdigest()


@dataclass(frozen=True)
class Ballot:
    poll: int
    question_sha256: str
    voter: int
    certificate_sha256: str
    choice: str
    nonce: str
    client_time: str
    data: bytes  # the exact signed bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def build_ballot(*, poll: int, question_sha256: str, voter: int, certificate_sha256: str, choice: str, nonce: str, client_time: datetime) -> bytes:
    """The canonical bytes a device signs (``ecabinet-sign vote`` and the tests use this)."""
    return canonicalize(
        {
            "format": BALLOT_FORMAT,
            "poll": poll,
            "question_sha256": question_sha256,
            "voter": voter,
            "certificate_sha256": certificate_sha256,
            "choice": choice,
            "nonce": nonce,
            "client_time": utc_text(client_time),
        }
    )


def _int(value: Any, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise BallotMalformed(f"'{name}' must be a positive integer")
    return value


def _text(value: Any, name: str, pattern: re.Pattern[str] | None = None, max_length: int = 200) -> str:
    if not isinstance(value, str) or not value or len(value) > max_length:
        raise BallotMalformed(f"'{name}' must be a non-empty string of at most {max_length} characters")
    if pattern is not None and not pattern.match(value):
        raise BallotMalformed(f"'{name}' is not in the expected form")
    return value


def parse_ballot(data: bytes) -> Ballot:
    """Check the ballot's form (canonical JSON, exactly the expected fields); not its signature."""
    if not isinstance(data, bytes) or not data:
        raise BallotMalformed("the ballot is empty")
    if len(data) > MAX_BALLOT_BYTES:
        raise BallotMalformed(f"a ballot is at most {MAX_BALLOT_BYTES} bytes")
    try:
        value = parse_canonical(data)
    except CanonicalError as exc:
        raise BallotMalformed(f"the ballot is not canonical JSON: {exc}") from None
    if not isinstance(value, dict):
        raise BallotMalformed("the ballot must be a JSON object")
    if set(value) != FIELDS:
        missing, extra = sorted(FIELDS - set(value)), sorted(set(value) - FIELDS)
        raise BallotMalformed(f"the ballot's fields are wrong (missing {missing}, unexpected {extra})")
    if value["format"] != BALLOT_FORMAT:
        raise BallotMalformed(f"unknown ballot format {value['format']!r}")
    return Ballot(
        poll=_int(value["poll"], "poll"),
        question_sha256=_text(value["question_sha256"], "question_sha256", _HEX64),
        voter=_int(value["voter"], "voter"),
        certificate_sha256=_text(value["certificate_sha256"], "certificate_sha256", _HEX64),
        choice=_text(value["choice"], "choice", max_length=64),
        nonce=_text(value["nonce"], "nonce", _NONCE, max_length=64),
        client_time=_text(value["client_time"], "client_time", _TIME, max_length=40),
        data=data,
    )
