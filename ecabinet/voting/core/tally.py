"""Counting a roll-call poll: which ballots count, and what the majority rule makes of them.

All arithmetic is on integers (cross-multiplied), so the outcome never depends on rounding.

- ``simple``: the leading option has more than half of the votes cast for an option (abstentions
  are not votes for an option). For approve / reject this is "more for than against".
- ``absolute``: the leading option has more than half of all eligible members, whether they voted
  or not.
- ``two_thirds``: the leading option has at least two thirds of the votes cast for an option.

Quorum ``(n, d)``: at least ``n/d`` of the eligible members cast a ballot (abstentions included);
otherwise the outcome is ``no_quorum`` whatever the counts. ``(0, 1)`` means no quorum.

A member who may change their vote can sign several ballots; the last one the server received
counts and the earlier ones stay in the evidence as ``superseded``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

RULES = ("simple", "absolute", "two_thirds")
ABSTAIN = "abstain"
APPROVE = "approve"
STANDARD_OPTIONS = (("approve", "Tán thành / Approve"), ("reject", "Không tán thành / Reject"), ("abstain", "Không biểu quyết / Abstain"))


@dataclass(frozen=True)
class CastBallot:
    voter: int
    choice: str
    order: int  # the server's receipt order (audit seq): the highest counts
    sha256: str


def counted_ballots(ballots: Iterable[CastBallot]) -> tuple[list[CastBallot], list[CastBallot]]:
    """(the last ballot of each voter, the earlier ones), each sorted by receipt order."""
    latest: dict[int, CastBallot] = {}
    everything = sorted(ballots, key=lambda b: b.order)
    for ballot in everything:
        latest[ballot.voter] = ballot
    counted = sorted(latest.values(), key=lambda b: b.order)
    kept = {id(b) for b in counted}
    return counted, [b for b in everything if id(b) not in kept]


def rule_met(rule: str, leader_votes: int, option_votes: int, eligible: int) -> bool:
    if rule == "simple":
        return leader_votes * 2 > option_votes
    if rule == "absolute":
        return leader_votes * 2 > eligible
    if rule == "two_thirds":
        return option_votes > 0 and leader_votes * 3 >= option_votes * 2
    raise ValueError(f"unknown majority rule {rule!r}")


def quorum_met(cast: int, eligible: int, quorum: tuple[int, int]) -> bool:
    numerator, denominator = quorum
    return cast * denominator >= eligible * numerator


def tally(*, option_keys: Sequence[str], choices: Sequence[str], eligible: int, rule: str, quorum: tuple[int, int]) -> dict[str, Any]:
    """The result of counted ``choices`` (one per voter). Pure and deterministic."""
    if rule not in RULES:
        raise ValueError(f"unknown majority rule {rule!r}")
    counts = {key: 0 for key in option_keys}
    for choice in choices:
        if choice not in counts:
            raise ValueError(f"{choice!r} is not an option of this poll")
        counts[choice] += 1
    cast = len(choices)
    votes = {k: v for k, v in counts.items() if k != ABSTAIN}
    option_votes = sum(votes.values())
    ranked = sorted(votes.items(), key=lambda kv: (-kv[1], list(option_keys).index(kv[0])))
    leader, leader_votes = ranked[0] if ranked else (None, 0)
    tied = len(ranked) > 1 and ranked[1][1] == leader_votes
    has_quorum = quorum_met(cast, eligible, quorum)
    standard = set(option_keys) == {k for k, _ in STANDARD_OPTIONS}
    winner = None
    if not has_quorum:
        outcome = "no_quorum"
    elif leader is not None and leader_votes > 0 and not tied and rule_met(rule, leader_votes, option_votes, eligible):
        winner = leader
        outcome = ("adopted" if leader == APPROVE else "not_adopted") if standard else "decided"
    else:
        outcome = "not_adopted" if standard else "no_decision"
    return {
        "counts": counts,
        "cast": cast,
        "eligible": eligible,
        "rule": rule,
        "quorum": [quorum[0], quorum[1]],
        "quorum_met": has_quorum,
        "winner": winner,
        "outcome": outcome,
    }
