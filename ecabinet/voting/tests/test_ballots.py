"""Casting signed ballots through the API: the receipt, changing a vote, and every kind of bad input.

Each refusal answers a 4xx problem with its code, stores no ballot, and leaves exactly one
``voting.ballot.refused`` audit entry naming the code.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from ecabinet.audit.actions import make_checkpoint
from ecabinet.audit.models import AuditEntry
from ecabinet.meetings.models import Participant
from ecabinet.pki import actions as pki_actions
from ecabinet.pki.core import ca, cms, keys
from ecabinet.pki.models import MemberCertificate
from ecabinet.pki.tests.factories import ForeignCa, new_member_key, sign
from ecabinet.voting import actions, events
from ecabinet.voting.models import Ballot, Poll
from ecabinet.voting.tests.conftest import ballot_bytes, cast, post_ballot, signed_body

pytestmark = pytest.mark.django_db


def refused(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code and body["status"] == status and body["type"].endswith(code)
    assert response["Content-Type"] == "application/problem+json"
    assert Ballot.objects.count() == 0
    entries = AuditEntry.objects.filter(event=events.BALLOT_REFUSED)
    assert entries.count() == 1 and entries.get().details["code"] == code


def test_a_signed_ballot_is_stored_and_answered_with_a_receipt(voting, item_poll):
    member = voting.members[0]
    body = signed_body(item_poll, member, "approve")
    response = post_ballot(member, item_poll, body)
    assert response.status_code == 201, response.content
    receipt = response.json()
    digest = hashlib.sha256(body["ballot"].encode()).hexdigest()
    assert receipt["ballot_sha256"] == digest and receipt["status"] == "pending_checkpoint" and receipt["proof"] is None
    stored = Ballot.objects.get()
    assert bytes(stored.data) == body["ballot"].encode() and stored.voter == member.user and stored.counted
    entry = AuditEntry.objects.get(seq=receipt["audit_seq"])
    assert entry.event == events.BALLOT_CAST and entry.details["ballot_sha256"] == digest and entry.details["choice"] == "approve"
    # Once a checkpoint covers the entry, the receipt carries the inclusion proof.
    make_checkpoint()
    later = Client().get(f"/api/v1/polls/{item_poll.pk}/ballots/{digest}/receipt", **member.auth()).json()
    assert later["status"] == "included" and later["proof"]["seq"] == receipt["audit_seq"]
    assert f'"ballot_sha256":"{digest}"' in later["proof"]["entry"]


def test_a_cms_envelope_is_accepted_in_place_of_a_bare_signature(voting, item_poll):
    member = voting.members[1]
    data = ballot_bytes(item_poll, member, "reject")
    envelope = cms.detached_signed_data(data, sign(member.key, data), member.x509)
    body = {"ballot": data.decode(), "cms": base64.b64encode(envelope).decode(), "totp": member.code()}
    assert post_ballot(member, item_poll, body).status_code == 201
    assert Ballot.objects.get().choice == "reject"


def test_a_raw_webcrypto_signature_is_accepted(voting, item_poll):
    member = voting.members[2]
    data = ballot_bytes(item_poll, member, "abstain")
    raw = cms.der_to_raw(sign(member.key, data))
    body = {"ballot": data.decode(), "signature": base64.b64encode(raw).decode(), "totp": member.code()}
    assert post_ballot(member, item_poll, body).status_code == 201


def test_changing_a_vote_keeps_the_earlier_ballot_uncounted(voting):
    chair = voting.cabinet.chair
    poll = actions.open_poll(actions.create_poll(question="Đổi phiếu?", item=voting.cabinet.items[1], allow_change=True, acting_user=chair), acting_user=chair)
    member = voting.members[0]
    first = cast(member, poll, "reject")
    second = cast(member, poll, "approve")
    first.refresh_from_db()
    assert not first.counted and second.counted and second.audit_seq > first.audit_seq
    assert AuditEntry.objects.get(seq=second.audit_seq).details["supersedes"] == first.pk
    assert actions.live_results(poll)["counts"] == {"approve": 1, "reject": 0, "abstain": 0}


def test_a_second_ballot_is_refused_when_the_poll_does_not_allow_changes(voting, item_poll):
    member = voting.members[0]
    cast(member, item_poll, "approve")
    response = post_ballot(member, item_poll, signed_body(item_poll, member, "reject"))
    assert response.status_code == 409 and response.json()["code"] == "already_voted"
    assert Ballot.objects.count() == 1 and Ballot.objects.get().choice == "approve"


# --- bad input ---------------------------------------------------------------------------------


def test_malformed_json_is_refused(voting, item_poll):
    member = voting.members[0]
    body = signed_body(item_poll, member)
    body["ballot"] = body["ballot"][:-1] + ', "x": 1}'
    refused(post_ballot(member, item_poll, body), 400, "ballot_malformed")


def test_malformed_cms_is_refused(voting, item_poll):
    member = voting.members[0]
    data = ballot_bytes(item_poll, member)
    body = {"ballot": data.decode(), "cms": base64.b64encode(b"0\x82garbage").decode(), "totp": member.code()}
    refused(post_ballot(member, item_poll, body), 400, "cms_malformed")


def test_a_signature_by_another_members_key_is_refused(voting, item_poll):
    member, other = voting.members[0], voting.members[1]
    refused(post_ballot(member, item_poll, signed_body(item_poll, member, key=other.key)), 422, "signature_invalid")


def test_another_members_certificate_named_in_ones_own_ballot_is_refused(voting, item_poll):
    member, other = voting.members[0], voting.members[1]
    # The other member's own signature and certificate, submitted by someone else's session.
    body = signed_body(item_poll, other)
    body["totp"] = member.code()
    refused(post_ballot(member, item_poll, body), 422, "ballot_voter_mismatch")


def test_a_revoked_certificate_is_refused(voting, item_poll):
    member = voting.members[0]
    pki_actions.revoke_certificate(member.certificate, reason="key_compromise", acting_user=member.user, source_ip=None)
    refused(post_ballot(member, item_poll, signed_body(item_poll, member)), 422, "certificate_revoked")


def test_an_expired_certificate_is_refused(voting, item_poll, installation_ca):
    member = voting.members[0]
    key = new_member_key()
    issuing = installation_ca.rows["issuing"]
    from ecabinet.pki import authority

    old = ca.issue_member_certificate(
        authority.signer_for(issuing),
        installation_ca.issuing,
        key.public_key(),
        full_name="x",
        user_id=member.user.pk,
        organisation="",
        days=1,
        now=datetime.now(UTC) - timedelta(days=10),
    )
    record = MemberCertificate.objects.create(
        user=member.user,
        issuer=issuing,
        device_label="old",
        certificate_pem=ca.to_pem(old),
        serial=format(old.serial_number, "x"),
        fingerprint=ca.fingerprint(old),
        spki_sha256=ca.spki_fingerprint(key.public_key()),
        not_before=old.not_valid_before_utc,
        not_after=old.not_valid_after_utc,
    )
    body = signed_body(item_poll, member, key=key, certificate_sha256=record.fingerprint)
    refused(post_ballot(member, item_poll, body), 422, "certificate_expired")


def test_a_certificate_from_another_ca_is_refused(voting, item_poll):
    member = voting.members[0]
    foreign = ForeignCa("Stranger")
    key = new_member_key()
    cert = foreign.member(key, user_id=member.user.pk)
    data = ballot_bytes(item_poll, member, certificate_sha256=ca.fingerprint(cert))
    envelope = cms.detached_signed_data(data, sign(key, data), cert, extra_certificates=[foreign.issuing])
    body = {"ballot": data.decode(), "cms": base64.b64encode(envelope).decode(), "totp": member.code()}
    refused(post_ballot(member, item_poll, body), 422, "certificate_untrusted")


def test_a_replayed_nonce_is_refused(voting, item_poll):
    chair = voting.cabinet.chair
    poll = actions.open_poll(actions.create_poll(question="Lặp lại?", item=voting.cabinet.items[1], allow_change=True, acting_user=chair), acting_user=chair)
    member = voting.members[0]
    body = signed_body(poll, member)
    assert post_ballot(member, poll, body).status_code == 201
    body["totp"] = member.code()
    response = post_ballot(member, poll, body)
    assert response.status_code == 409 and response.json()["code"] == "ballot_replayed"
    assert Ballot.objects.count() == 1
    assert AuditEntry.objects.filter(event=events.BALLOT_REFUSED, details__code="ballot_replayed").count() == 1


def test_a_ballot_after_closing_is_refused(voting, item_poll):
    actions.close_poll(item_poll, acting_user=voting.cabinet.chair)
    member = voting.members[0]
    refused(post_ballot(member, item_poll, signed_body(item_poll, member)), 409, "poll_not_open")


def test_a_ballot_before_opening_is_refused(voting):
    poll = actions.create_poll(question="Chưa mở?", item=voting.cabinet.items[1], acting_user=voting.cabinet.chair)
    member = voting.members[0]
    refused(post_ballot(member, poll, signed_body(poll, member)), 409, "poll_not_open")


def test_a_ballot_after_the_deadline_is_refused_even_before_the_task_runs(voting):
    chair = voting.cabinet.chair
    poll = actions.create_poll(
        question="Lấy ý kiến?", voter_ids=[m.user.pk for m in voting.members], deadline=timezone.now() + timedelta(hours=1), acting_user=chair
    )
    actions.open_poll(poll, acting_user=chair)
    Poll.objects.filter(pk=poll.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    member = voting.members[0]
    refused(post_ballot(member, poll, signed_body(poll, member)), 409, "poll_not_open")


def test_an_ineligible_member_is_refused(voting, installation_ca, enrolled):
    chair = voting.cabinet.chair
    poll = actions.create_poll(
        question="Chỉ hai người?", voter_ids=[m.user.pk for m in voting.members[:2]], deadline=timezone.now() + timedelta(hours=1), acting_user=chair
    )
    actions.open_poll(poll, acting_user=chair)
    outsider = voting.members[3]
    # The outsider cannot even see the consultation: it does not exist for them.
    response = post_ballot(outsider, poll, signed_body(poll, outsider))
    assert response.status_code == 404 and response.json()["code"] == "poll_not_found"
    # The chair sees it (runs it) but is not among its voters.
    refused(post_ballot(voting.chair, poll, signed_body(poll, voting.chair)), 403, "voter_not_eligible")


def test_a_choice_not_in_the_options_is_refused(voting, item_poll):
    member = voting.members[0]
    refused(post_ballot(member, item_poll, signed_body(item_poll, member, "maybe")), 422, "ballot_choice_invalid")


def test_a_changed_question_hash_is_refused(voting, item_poll):
    member = voting.members[0]
    tampered = hashlib.sha256(b"another question").hexdigest()
    refused(post_ballot(member, item_poll, signed_body(item_poll, member, question_sha256=tampered)), 422, "ballot_question_mismatch")


def test_a_ballot_for_another_poll_is_refused(voting, item_poll):
    member = voting.members[0]
    refused(post_ballot(member, item_poll, signed_body(item_poll, member, poll=item_poll.pk + 1000)), 422, "ballot_wrong_poll")


def test_the_step_up_code_is_required_and_checked(voting, item_poll):
    member = voting.members[0]
    body = signed_body(item_poll, member)
    body["totp"] = ""
    refused(post_ballot(member, item_poll, body), 401, "step_up_required")


def test_a_wrong_step_up_code_is_refused(voting, item_poll):
    member = voting.members[0]
    body = signed_body(item_poll, member)
    body["totp"] = "000000" if body["totp"] != "000000" else "111111"
    refused(post_ballot(member, item_poll, body), 401, "mfa_invalid")


def test_anonymous_and_invisible_callers(voting, item_poll, make_user):
    member = voting.members[0]
    body = signed_body(item_poll, member)
    assert Client().post(f"/api/v1/polls/{item_poll.pk}/ballots", body, content_type="application/json").status_code == 401
    assert Client().get(f"/api/v1/polls/{item_poll.pk}").status_code == 401
    stranger = make_user()  # another government
    from ecabinet.identity import actions as identity_actions

    _, token = identity_actions.register_device(stranger, name="x", user_agent="x", source_ip=None)
    response = Client().get(f"/api/v1/polls/{item_poll.pk}", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 404
    assert Client().get("/api/v1/polls", HTTP_AUTHORIZATION=f"Bearer {token}").json() == []
    assert Ballot.objects.count() == 0


def test_a_participant_who_is_not_a_voting_member_is_refused(voting, item_poll, enrolled):
    guest = voting.cabinet.guest  # invited to the meeting as a guest: sees the item, does not vote
    assert Participant.objects.filter(meeting=voting.cabinet.meeting, user=guest, kind=Participant.Kind.GUEST).exists()
    key, certificate = enrolled(guest)
    data = ballot_bytes(item_poll, type("V", (), {"user": guest, "certificate": certificate})())
    with pytest.raises(Exception) as caught:
        actions.cast_ballot(item_poll, ballot=data, signature=sign(key, data), totp=_code(guest), acting_user=guest)
    assert getattr(caught.value, "code", "") == "voter_not_eligible"
    assert Ballot.objects.count() == 0


def _code(user):
    from ecabinet.conftest import fresh_code

    user.refresh_from_db()
    return fresh_code(user)


def test_server_side_keys_cannot_stand_in_for_the_members(voting, item_poll):
    """A ballot signed with a key the server made (not the member's device key) names no registered certificate."""
    member = voting.members[0]
    server_key = keys.generate_key("P-256")
    refused(post_ballot(member, item_poll, signed_body(item_poll, member, key=server_key)), 422, "signature_invalid")
