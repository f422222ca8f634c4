"""Quorum arithmetic (meetings.core.quorum): pure, no database."""

from __future__ import annotations

import pytest

from ecabinet.meetings.core.quorum import IN_ROOM, REMOTE, SUBSTITUTE, Presence, QuorumRules, compute, counted_members, required_present

MAJORITY = QuorumRules()


@pytest.mark.parametrize(
    ("voting", "required"),
    [(1, 1), (2, 2), (3, 2), (4, 3), (5, 3), (27, 14), (28, 15)],
)
def test_majority_needs_more_than_half(voting, required):
    assert required_present(voting, MAJORITY) == required
    # and one fewer is never enough
    assert compute(range(voting), [Presence(m, IN_ROOM) for m in range(required - 1)], MAJORITY).reached is False
    assert compute(range(voting), [Presence(m, IN_ROOM) for m in range(required)], MAJORITY).reached is True


@pytest.mark.parametrize(("voting", "required"), [(3, 2), (4, 3), (6, 4), (9, 6)])
def test_at_least_two_thirds(voting, required):
    rules = QuorumRules(numerator=2, denominator=3, strictly_more=False)
    assert required_present(voting, rules) == required


def test_exact_half_is_enough_only_when_not_strict():
    presences = [Presence(1, IN_ROOM), Presence(2, IN_ROOM)]
    assert compute([1, 2, 3, 4], presences, QuorumRules(strictly_more=False)).reached is True
    assert compute([1, 2, 3, 4], presences, MAJORITY).reached is False


def test_remote_presence_counts_by_the_rules():
    presences = [Presence(1, IN_ROOM), Presence(2, REMOTE)]
    assert compute([1, 2, 3], presences, MAJORITY).present == 2
    assert compute([1, 2, 3], presences, QuorumRules(remote_counts=False)).present == 1


def test_substitutes_count_only_when_the_rules_say_so():
    presences = [Presence(1, IN_ROOM), Presence(2, SUBSTITUTE)]
    assert compute([1, 2, 3], presences, MAJORITY).reached is False
    assert compute([1, 2, 3], presences, QuorumRules(substitutes_count=True)).reached is True


def test_each_member_counts_once_and_non_voters_never():
    presences = [Presence(1, IN_ROOM), Presence(1, SUBSTITUTE), Presence(None, IN_ROOM), Presence(99, IN_ROOM)]
    assert counted_members([1, 2], presences, QuorumRules(substitutes_count=True)) == {1}


def test_no_voting_members_means_no_quorum():
    result = compute([], [], MAJORITY)
    assert (result.voting, result.present, result.reached) == (0, 0, False)


def test_a_share_of_all_strictly_more_is_unreachable():
    rules = QuorumRules(numerator=1, denominator=1, strictly_more=True)
    assert compute([1, 2], [Presence(1, IN_ROOM), Presence(2, IN_ROOM)], rules).reached is False
    assert compute([1, 2], [Presence(1, IN_ROOM), Presence(2, IN_ROOM)], QuorumRules(numerator=1, denominator=1, strictly_more=False)).reached is True


@pytest.mark.parametrize(("numerator", "denominator"), [(1, 0), (3, 2), (-1, 2)])
def test_nonsense_rules_are_refused(numerator, denominator):
    with pytest.raises(ValueError, match="quorum"):
        QuorumRules(numerator=numerator, denominator=denominator)
