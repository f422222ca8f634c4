"""Quorum arithmetic, with no Django import so it can be tested and audited alone.

The voting members are the meeting's member participants and its chair. A voting member counts
as present when checked in in the room, or remotely if the rules count remote presence, or when a
substitute sits for them and the rules count substitutes. Each voting member counts once, however
many ways they are represented.

The quorum is reached when ``present / voting`` is more than (or, if ``strictly_more`` is off, at
least) ``numerator / denominator``; everything is kept in integers so no rounding can tip it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

IN_ROOM = "in_room"
REMOTE = "remote"
SUBSTITUTE = "substitute"


@dataclass(frozen=True)
class QuorumRules:
    numerator: int = 1
    denominator: int = 2
    strictly_more: bool = True
    remote_counts: bool = True
    substitutes_count: bool = False

    def __post_init__(self) -> None:
        if self.denominator <= 0:
            raise ValueError("the quorum denominator must be positive")
        if self.numerator < 0 or self.numerator > self.denominator:
            raise ValueError("the quorum share must be between 0 and 1")


@dataclass(frozen=True)
class Presence:
    """One open attendance: ``member`` is the voting member it stands for (or None)."""

    member: int | None
    mode: str


@dataclass(frozen=True)
class Quorum:
    voting: int
    present: int
    required: int
    reached: bool


def required_present(voting: int, rules: QuorumRules) -> int:
    """The fewest present voting members that make the quorum (0 voting members: never reached)."""
    if voting <= 0:
        return 1
    share = rules.numerator * voting
    if rules.strictly_more:
        # smallest k with k * d > n * voting
        return share // rules.denominator + 1
    # smallest k with k * d >= n * voting
    return -(-share // rules.denominator)


def counted_members(voting_members: Iterable[int], presences: Iterable[Presence], rules: QuorumRules) -> set[int]:
    voters = set(voting_members)
    counted: set[int] = set()
    for presence in presences:
        if presence.member is None or presence.member not in voters:
            continue
        if presence.mode == IN_ROOM or (presence.mode == REMOTE and rules.remote_counts) or (presence.mode == SUBSTITUTE and rules.substitutes_count):
            counted.add(presence.member)
    return counted


def compute(voting_members: Iterable[int], presences: Iterable[Presence], rules: QuorumRules) -> Quorum:
    voters = set(voting_members)
    present = len(counted_members(voters, presences, rules))
    required = required_present(len(voters), rules)
    # The required count can exceed the voters (a share of 1 strictly more): then it is unreachable.
    return Quorum(voting=len(voters), present=present, required=required, reached=bool(voters) and present >= required)
