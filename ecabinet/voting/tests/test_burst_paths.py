"""What the burst-speed work keeps: the cached trust store still sees a revocation or a CA change on
the very next ballot, the coalesced live turnout still ends on the final count, and the audit
append that trusts its caller's chain head refuses to run outside the caller's transaction."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from cryptography.hazmat.primitives import hashes
from django.db import transaction
from django.utils import timezone

from ecabinet.audit.actions import lock_chain, record
from ecabinet.audit.core.verify import LogVerifier
from ecabinet.audit.models import AuditEntry
from ecabinet.meetings.broadcast import meeting_group
from ecabinet.pki import actions as pki_actions
from ecabinet.pki.models import Authority, MemberCertificate
from ecabinet.pki.tests.factories import ForeignCa, new_member_key
from ecabinet.voting import actions, errors, events, live_push, trust
from ecabinet.voting.models import Ballot
from ecabinet.voting.tests.conftest import cast, post_ballot, signed_body
from ecabinet.voting.tests.test_ballots import refused

pytestmark = pytest.mark.django_db


def test_a_revocation_counts_for_the_next_ballot_although_the_trust_store_is_cached(voting, item_poll):
    first, second = voting.members[0], voting.members[1]
    assert post_ballot(first, item_poll, signed_body(item_poll, first)).status_code == 201
    cached = trust.trust_store()
    assert trust.trust_store() is cached  # nothing changed: the parsed store is reused
    pki_actions.revoke_certificate(second.certificate, reason="key_compromise", acting_user=second.user, source_ip=None)
    refused_response = post_ballot(second, item_poll, signed_body(item_poll, second))
    assert refused_response.status_code == 422 and refused_response.json()["code"] == "certificate_revoked"
    assert Ballot.objects.filter(voter=second.user).count() == 0


def test_a_new_crl_or_a_withdrawn_ca_is_seen_on_the_next_ballot(voting, item_poll):
    member = voting.members[0]
    cached = trust.trust_store()
    pki_actions.publish_crl()
    assert trust.trust_store() is not cached  # a new CRL: the store is read again
    # Withdraw every authority: the member's certificate no longer chains to anything we trust.
    Authority.objects.update(active=False)
    refused(post_ballot(member, item_poll, signed_body(item_poll, member)), 422, "certificate_untrusted")


def test_a_checked_issuer_signature_is_remembered_per_certificate(voting, item_poll):
    """The store remembers (certificate, issuer) pairs by their hashes: a certificate the issuer did
    not sign is checked on its own and refused, whatever was remembered before."""
    member = voting.members[0]
    assert post_ballot(member, item_poll, signed_body(item_poll, member)).status_code == 201
    store = trust.trust_store()
    issuing = store.intermediates[0]
    assert store.directly_issued(member.x509, issuing)
    assert (member.x509.fingerprint(hashes.SHA256()), issuing.fingerprint(hashes.SHA256())) in store._issued_cache
    foreign = ForeignCa().member(new_member_key(), user_id=member.user.pk)
    assert not store.directly_issued(foreign, issuing)
    assert not store.directly_issued(foreign, issuing)  # the remembered answer is the same answer


async def _turnout_pushes(channel: str, *, until_cast: int | None = None, limit: float = 60) -> list[dict[str, Any]]:
    """The turnout pushes received on ``channel``: until one carries ``until_cast`` (or ``limit``
    seconds pass), else until the channel has been quiet for half a second. One event loop for all
    the receives: Redis's layer binds a channel's queue to the loop that first received on it."""
    layer = get_channel_layer()
    found: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while True:
        try:
            message = await asyncio.wait_for(layer.receive(channel), timeout=0.5)
        except TimeoutError:
            done = until_cast is None or (found and found[-1]["cast"] == until_cast)
            if done or loop.time() > deadline:
                return found
            continue
        if message["event"]["kind"] == events.LIVE_BALLOT:
            found.append(message["event"]["data"])


@pytest.mark.django_db(transaction=True)
def test_live_turnout_is_coalesced_and_the_last_push_carries_the_final_count(voting, item_poll, settings):
    settings.VOTE_PUSH_SECONDS = 2.0
    live_push.reset()
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(meeting_group(item_poll.meeting_id), channel)
    voters = [voting.chair, *voting.members]
    began = time.monotonic()
    for voter in voters:
        cast(voter, item_poll, "approve")
    casting = time.monotonic() - began
    # The push due at the end of the window counts every ballot committed before it runs.
    pushed = async_to_sync(_turnout_pushes)(channel, until_cast=len(voters))
    assert pushed and pushed[-1]["cast"] == len(voters), f"no push with the final count; got {pushed}"
    assert pushed[0]["cast"] == 1  # the first ballot after a quiet spell is pushed at once
    assert [p["cast"] for p in pushed] == sorted(p["cast"] for p in pushed)
    # At most one push per window, plus the first: fewer pushes than ballots unless casting was slow.
    assert len(pushed) <= 2 + int(casting / settings.VOTE_PUSH_SECONDS)
    live_push.reset()


@pytest.mark.django_db(transaction=True)
def test_every_ballot_is_pushed_when_coalescing_is_off(voting, item_poll, settings):
    settings.VOTE_PUSH_SECONDS = 0
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(meeting_group(item_poll.meeting_id), channel)
    for voter in voting.members[:2]:
        cast(voter, item_poll, "reject")
    assert [p["cast"] for p in async_to_sync(_turnout_pushes)(channel)] == [1, 2]


@pytest.mark.django_db(transaction=True)
def test_an_append_after_a_given_head_needs_the_callers_transaction(voting):
    before = AuditEntry.objects.count()
    with pytest.raises(ValueError, match="transaction"):
        record("test.event", head=(None, None))
    assert AuditEntry.objects.count() == before


@pytest.mark.django_db(transaction=True)
def test_ballots_keep_the_audit_chain_whole(voting, item_poll):
    """Ballots append with the head read under the chain lock; the chain verifies end to end."""
    for voter in voting.members:
        cast(voter, item_poll, "approve")
    with transaction.atomic():
        lock_chain()
        last = AuditEntry.objects.order_by("-seq").values_list("seq", "entry_hash").first()
        entry = record("test.after_ballots", head=last)
    assert entry.seq == last[0] + 1 and entry.prev_hash == last[1]
    from ecabinet.audit import signing

    verifier = LogVerifier(name=signing.signer_name(), public_key=signing.private_key().public_key(), max_problems=5)
    for stored in AuditEntry.objects.order_by("seq"):
        verifier.feed(stored.stored())
    report = verifier.finish()
    assert report.ok, report.problems
    assert report.entries == AuditEntry.objects.count()


@pytest.mark.django_db(transaction=True)
def test_the_push_due_later_runs_on_the_servers_event_loop(voting, item_poll, settings):
    """As under ``ecabinet serve``: ballots cast from request threads of a running event loop; the
    push due at the end of the window is scheduled on that loop and still carries the final count."""
    from asgiref.sync import sync_to_async

    settings.VOTE_PUSH_SECONDS = 1.0
    live_push.reset()
    voters = [voting.chair, *voting.members]

    async def serve() -> list[dict[str, Any]]:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(meeting_group(item_poll.meeting_id), channel)
        for voter in voters:
            await sync_to_async(cast)(voter, item_poll, "abstain")
        return await _turnout_pushes(channel, until_cast=len(voters))

    pushed = async_to_sync(serve)()
    assert pushed and pushed[-1]["cast"] == len(voters), pushed
    assert pushed[0]["cast"] == 1
    live_push.reset()


def test_certificates_are_checked_ahead_and_a_revoked_or_expired_one_is_left_to_its_ballot(voting, item_poll):
    first, second, third = voting.members[:3]
    pki_actions.revoke_certificate(second.certificate, reason="key_compromise", acting_user=second.user, source_ip=None)
    MemberCertificate.objects.filter(pk=third.certificate.pk).update(not_after=timezone.now() - timedelta(days=1))
    store = trust.trust_store()
    store._passed.clear()

    assert trust.warm() == len(voting.voters) - 2
    kept = {fingerprint for fingerprint, for_signing in store._passed if for_signing}
    assert first.x509.fingerprint(hashes.SHA256()) in kept
    assert second.x509.fingerprint(hashes.SHA256()) not in kept and third.x509.fingerprint(hashes.SHA256()) not in kept
    # Checked ahead or not, the ballot's own checks decide: the revoked certificate is refused.
    refused(post_ballot(second, item_poll, signed_body(item_poll, second)), 422, "certificate_revoked")
    assert post_ballot(first, item_poll, signed_body(item_poll, first)).status_code == 201


@pytest.mark.django_db(transaction=True)  # the check ahead runs in a thread of its own
def test_a_new_trust_store_has_its_certificates_checked_ahead_in_the_background(voting, settings):
    settings.VOTE_WARM_CERTIFICATES = True
    trust.trust_store()
    pki_actions.publish_crl()  # a new CRL: the next read builds a new store, and checks ahead
    store = trust.trust_store()
    wanted = {voter.x509.fingerprint(hashes.SHA256()) for voter in voting.voters.values()}
    deadline = time.monotonic() + 30
    while not wanted <= {fingerprint for fingerprint, _ in store._passed} and time.monotonic() < deadline:
        time.sleep(0.05)
    assert wanted <= {fingerprint for fingerprint, _ in store._passed}


def test_a_fault_in_one_ballot_of_a_batch_is_that_ballots_alone(voting, item_poll, monkeypatch):
    first, second, third = voting.members[:3]
    checked = trust.check_member_certificate

    def faulty(cert: Any, **kwargs: Any) -> Any:
        if cert == second.x509:
            raise RuntimeError("a fault in this ballot's check")
        return checked(cert, **kwargs)

    monkeypatch.setattr(trust, "check_member_certificate", faulty)
    requests = []
    for voter in (first, second, third):
        body = signed_body(item_poll, voter, "approve")
        requests.append(actions.BallotRequest(item_poll, voter.user, body["ballot"], signature=body["signature"], totp=body["totp"]))
    requests.append(actions.BallotRequest(item_poll, voting.chair.user, signed_body(item_poll, voting.chair)["ballot"], totp=None))

    outcomes = actions.cast_ballots(requests)

    assert isinstance(outcomes[0], Ballot) and isinstance(outcomes[2], Ballot)
    assert isinstance(outcomes[1], RuntimeError)
    assert isinstance(outcomes[3], errors.StepUpRequired)
    assert set(Ballot.objects.values_list("voter_id", flat=True)) == {first.user.pk, third.user.pk}
    assert AuditEntry.objects.filter(event=events.BALLOT_REFUSED, actor=voting.chair.user).count() == 1
    with pytest.raises(RuntimeError):
        body = signed_body(item_poll, second, "reject")
        actions.cast_ballot(item_poll, ballot=body["ballot"], signature=body["signature"], totp=body["totp"], acting_user=second.user)
