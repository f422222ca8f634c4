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
from ecabinet.audit import events as audit_events
from ecabinet.audit.models import AuditEntry
from ecabinet.conftest import fresh_code
from ecabinet.errors import ECabinetError
from ecabinet.identity import actions as identity_actions
from ecabinet.identity import errors as identity_errors
from ecabinet.identity.models import LoginThrottle, User
from ecabinet.pki.tests.factories import sign
from ecabinet.voting import actions, errors, events
from ecabinet.voting.core import ballot as ballot_core
from ecabinet.voting.core import groupcommit
from ecabinet.voting.models import Ballot, PollVoter
from ecabinet.voting.tests.conftest import ballot_bytes, cast

pytestmark = pytest.mark.django_db


def pending(voter, poll, choice="approve", *, code=None, **override):
    """A ballot that passed every check outside the lock, as ``cast_ballot`` makes it."""
    data = ballot_bytes(poll, voter, choice, **override)
    request = actions.BallotRequest(poll, voter.user, data, signature=sign(voter.key, data), totp=code or voter.code(), source_ip="10.0.0.9")
    parsed = ballot_core.parse_ballot(data)
    [reads] = actions._first_reads([(voter.user, request.source_ip, parsed.certificate_sha256)])
    return actions._checked(request, parsed=parsed, malformed=None, reads=reads)


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
    # Two codes, as a member who changes their vote a minute later types a new one.
    first, second = pending(member, poll, "reject"), pending(member, poll, "approve", code=fresh_code(member.user, offset_steps=1))

    actions._write_ballots([first, second])
    assert first.step_spent and second.step_spent

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
    replay = pending(member, poll, "reject", nonce="the-same-nonce-twice-000000000000", code=fresh_code(member.user, offset_steps=1))

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
    # Both codes are spent, the refused ballot's too, though the round that first spent it rolled back.
    assert honest.step_spent and replay.step_spent
    assert User.objects.get(pk=c.user.pk).totp_last_step == replay.step.step
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

    assert all(item.result is None and item.error is None and not item.step_spent for item in group)
    assert Ballot.objects.count() == 0 and AuditEntry.objects.count() == entries_before
    assert User.objects.get(pk=a.user.pk).totp_last_step < group[0].step.step  # nothing committed, the code included
    # Through the group writer every waiting request gets the failure, none a receipt.
    writer = groupcommit.GroupCommit(actions._write_ballots)
    with pytest.raises(OperationalError):
        writer.submit(pending(voting.members[2], item_poll, "abstain"))


def test_the_step_up_code_is_spent_with_the_ballot_and_a_code_spent_meanwhile_is_a_replay(voting, item_poll):
    a, b = voting.members[:2]
    mine, replay = pending(a, item_poll, "approve"), pending(b, item_poll, "reject")
    assert User.objects.get(pk=a.user.pk).totp_last_step < mine.step.step  # checked, not yet spent
    # b's code is used elsewhere (a sign-in in parallel) after the ballot's checks.
    assert identity_actions.spend_step(b.user.pk, replay.step.step)
    entries_before = AuditEntry.objects.count()

    actions._write_ballots([mine, replay])
    for item in (mine, replay):
        item.settle_step()

    assert isinstance(mine.result, Ballot) and mine.step_spent
    assert User.objects.get(pk=a.user.pk).totp_last_step == mine.step.step
    assert isinstance(replay.error, identity_errors.MfaInvalid) and replay.result is None and not replay.step_spent
    assert set(Ballot.objects.values_list("voter_id", flat=True)) == {a.user.pk}
    # The replay leaves what a replayed code always left: its entry, the ballot's refusal, a failure.
    added = list(AuditEntry.objects.filter(seq__gte=entries_before).order_by("seq").values_list("event", "actor_id", "details"))
    assert [(event, actor) for event, actor, _ in added] == [
        (events.BALLOT_CAST, a.user.pk),
        (audit_events.MFA_REPLAYED, b.user.pk),
        (events.BALLOT_REFUSED, b.user.pk),
    ]
    assert added[2][2]["code"] == "mfa_invalid"
    assert LoginThrottle.objects.get(scope=LoginThrottle.Scope.ACCOUNT, key=b.user.username.lower()).failures == 1
    assert checks.full_verify().report.ok


def test_two_ballots_with_one_code_in_one_group_store_the_first_and_refuse_the_second(voting):
    chair = voting.cabinet.chair
    polls = [
        actions.open_poll(actions.create_poll(question=f"Câu hỏi {n}?", item=voting.cabinet.items[n], acting_user=chair), acting_user=chair) for n in (0, 1)
    ]
    member = voting.members[0]
    code = member.code()
    first, second = pending(member, polls[0], "approve", code=code), pending(member, polls[1], "approve", code=code)
    assert first.step.step == second.step.step

    actions._write_ballots([first, second])

    assert isinstance(first.result, Ballot)
    assert isinstance(second.error, identity_errors.MfaInvalid)
    assert list(Ballot.objects.values_list("poll_id", flat=True)) == [polls[0].pk]
    assert checks.full_verify().report.ok


def test_a_ballot_refused_before_its_group_still_spends_its_code(voting, item_poll):
    member = voting.members[0]
    data = ballot_bytes(item_poll, member, "approve")
    code = member.code()
    with pytest.raises(ECabinetError) as caught:
        actions.cast_ballot(item_poll, ballot=data, signature=sign(voting.members[1].key, data), totp=code, acting_user=member.user)
    assert caught.value.code == "signature_invalid"
    step = User.objects.get(pk=member.user.pk).totp_last_step
    assert step > 0
    # The same code again: refused as a replay, before anything else is looked at.
    with pytest.raises(identity_errors.MfaInvalid):
        actions.cast_ballot(item_poll, ballot=data, signature=sign(member.key, data), totp=code, acting_user=member.user)
    assert not Ballot.objects.exists()
    assert AuditEntry.objects.filter(event=audit_events.MFA_REPLAYED, actor_id=member.user.pk).count() == 1
