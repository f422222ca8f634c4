"""Ballots written in groups (``actions._write_ballots``): one transaction decides each ballot of
the group as a ballot alone would be decided, refusals keep their audit entries, the chain stays
whole, and a replay the read under the lock could not see still refuses only the replayed ballot.

The API tests cover each decision one ballot at a time; these put several in one group, as a
burst does (``test_burst`` sends real concurrent requests to a real server)."""

from __future__ import annotations

import dataclasses

import pytest
from django.db import OperationalError

from ecabinet import rawsql
from ecabinet.audit import checks
from ecabinet.audit.models import AuditEntry
from ecabinet.pki.tests.factories import sign
from ecabinet.voting import actions, errors, events
from ecabinet.voting.core import groupcommit
from ecabinet.voting.models import Ballot, PollVoter
from ecabinet.voting.tests.conftest import ballot_bytes, cast

pytestmark = pytest.mark.django_db


def pending(voter, poll, choice="approve", **override):
    """A ballot that passed every check outside the lock, as ``cast_ballot`` makes it."""
    data = ballot_bytes(poll, voter, choice, **override)
    return actions._checked(poll, data=data, signature=sign(voter.key, data), cms=None, totp=voter.code(), acting_user=voter.user, source_ip="10.0.0.9")


def test_one_group_decides_each_ballot_and_keeps_every_refusal_in_the_chain(voting, item_poll):
    a, b, c, d = voting.members
    cast(d, item_poll, "reject")  # d has voted; the poll allows no change
    group = [pending(a, item_poll, "approve"), pending(b, item_poll, "abstain"), pending(c, item_poll, "reject"), pending(d, item_poll, "approve")]
    PollVoter.objects.filter(poll=item_poll, user=b.user).delete()  # b stops being eligible after the checks outside the lock

    actions._write_ballots(group)

    assert isinstance(group[0].result, Ballot) and group[0].error is None
    assert isinstance(group[1].error, errors.NotEligible) and group[1].result is None
    assert isinstance(group[2].result, Ballot)
    assert isinstance(group[3].error, errors.AlreadyVoted)
    stored = {ballot.voter_id: ballot.choice for ballot in Ballot.objects.all()}
    assert stored == {a.user.pk: "approve", c.user.pk: "reject", d.user.pk: "reject"}
    refusals = {e.actor_id: e.details["code"] for e in AuditEntry.objects.filter(event=events.BALLOT_REFUSED)}
    assert refusals == {b.user.pk: "voter_not_eligible", d.user.pk: "already_voted"}
    # Each stored ballot names its own entry, and the group's entries chain on from the log's head.
    for item in (group[0], group[2]):
        entry = AuditEntry.objects.get(seq=item.result.audit_seq)
        assert entry.event == events.BALLOT_CAST and entry.details["ballot_sha256"] == item.parsed.sha256 and entry.source_ip == "10.0.0.9"
    assert checks.full_verify().report.ok


def test_two_ballots_of_one_voter_in_a_group_are_written_in_order_and_the_later_one_counts(voting):
    chair = voting.cabinet.chair
    poll = actions.open_poll(actions.create_poll(question="Đổi phiếu?", item=voting.cabinet.items[1], allow_change=True, acting_user=chair), acting_user=chair)
    member = voting.members[0]
    first, second = pending(member, poll, "reject"), pending(member, poll, "approve")

    actions._write_ballots([first, second])

    earlier, later = Ballot.objects.get(sha256=first.parsed.sha256), Ballot.objects.get(sha256=second.parsed.sha256)
    assert not earlier.counted and later.counted and later.audit_seq > earlier.audit_seq
    assert AuditEntry.objects.get(seq=later.audit_seq).details["supersedes"] == earlier.pk
    assert actions.live_results(poll)["counts"] == {"approve": 1, "reject": 0, "abstain": 0}
    assert checks.full_verify().report.ok


def test_a_replayed_nonce_in_the_same_group_is_refused_and_the_first_one_stored(voting):
    chair = voting.cabinet.chair
    poll = actions.open_poll(actions.create_poll(question="Lặp lại?", item=voting.cabinet.items[1], allow_change=True, acting_user=chair), acting_user=chair)
    member = voting.members[0]
    original = pending(member, poll, "approve", nonce="the-same-nonce-twice-000000000000")
    replay = pending(member, poll, "reject", nonce="the-same-nonce-twice-000000000000")

    actions._write_ballots([original, replay])

    assert isinstance(original.result, Ballot)
    assert isinstance(replay.error, errors.NonceReplayed)
    assert Ballot.objects.get().sha256 == original.parsed.sha256
    assert AuditEntry.objects.filter(event=events.BALLOT_REFUSED, details__code="ballot_replayed").count() == 1


def test_a_replay_the_read_could_not_see_refuses_only_that_ballot(voting, item_poll, monkeypatch):
    """If the unique columns refuse a group's insert, the group is written again one ballot at a
    time, and only the one the database refuses is answered ``ballot_replayed``."""
    a, b, c = voting.members[:3]
    stored = cast(a, item_poll, "approve")
    honest = pending(b, item_poll, "reject")
    replay = pending(c, item_poll, "abstain")
    replay.parsed = dataclasses.replace(replay.parsed, nonce=stored.nonce)  # a's stored nonce again
    blind = actions._round_state

    def round_state_that_misses_replays(items):
        polls, eligible, previous, _seen, head = blind(items)
        return polls, eligible, previous, set(), head

    monkeypatch.setattr(actions, "_round_state", round_state_that_misses_replays)
    actions._write_ballots([honest, replay])

    assert isinstance(honest.result, Ballot) and honest.error is None
    assert isinstance(replay.error, errors.NonceReplayed) and replay.result is None
    assert set(Ballot.objects.values_list("voter_id", "choice")) == {(a.user.pk, "approve"), (b.user.pk, "reject")}
    assert AuditEntry.objects.get(event=events.BALLOT_REFUSED).actor_id == c.user.pk
    assert AuditEntry.objects.filter(event=events.BALLOT_REFUSED, details__code="ballot_replayed").count() == 1
    assert checks.full_verify().report.ok


def test_a_group_that_fails_to_commit_answers_no_ballot_as_stored(voting, item_poll, monkeypatch):
    a, b = voting.members[:2]
    group = [pending(a, item_poll, "approve"), pending(b, item_poll, "reject")]
    entries_before = AuditEntry.objects.count()

    insert = rawsql.insert

    def disk_full(model, objs):
        if model is Ballot and objs:  # the audit entries went in; the ballots do not
            raise OperationalError("could not extend file: No space left on device")
        insert(model, objs)

    monkeypatch.setattr(rawsql, "insert", disk_full)
    with pytest.raises(OperationalError):
        actions._write_ballots(group)

    assert all(item.result is None and item.error is None for item in group)
    assert Ballot.objects.count() == 0 and AuditEntry.objects.count() == entries_before
    # Through the group writer every waiting request gets the failure, none a receipt.
    writer = groupcommit.GroupCommit(actions._write_ballots)
    with pytest.raises(OperationalError):
        writer.submit(pending(voting.members[2], item_poll, "abstain"))
