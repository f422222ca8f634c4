"""Voting fixtures: the meetings' cabinet, in session, with an installation CA and every voter's
device key enrolled through the real PKI actions; helpers to sign and cast ballots."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from django.test import Client

from ecabinet.conftest import fresh_code
from ecabinet.identity import actions as identity_actions
from ecabinet.identity.models import User
from ecabinet.meetings.models import Meeting
from ecabinet.meetings.tests.conftest import Cabinet, cabinet, fast_password_hashing  # noqa: F401 - fixtures
from ecabinet.pki.models import MemberCertificate
from ecabinet.pki.tests.conftest import enrolled, installation_ca, pki_settings  # noqa: F401 - fixtures
from ecabinet.pki.tests.factories import sign
from ecabinet.voting import actions
from ecabinet.voting.core.ballot import build_ballot
from ecabinet.voting.models import Poll


@dataclass
class Voter:
    user: User
    key: ec.EllipticCurvePrivateKey
    certificate: MemberCertificate
    token: str = ""

    @property
    def x509(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.certificate.certificate_pem.encode())

    def code(self) -> str:
        self.user.refresh_from_db(fields=["totp_last_step"])
        return fresh_code(self.user)

    def auth(self) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.token}"}


@dataclass
class VotingCabinet:
    cabinet: Cabinet
    voters: dict[int, Voter] = field(default_factory=dict)

    @property
    def chair(self) -> Voter:
        return self.voters[self.cabinet.chair.pk]

    @property
    def members(self) -> list[Voter]:
        return [self.voters[m.pk] for m in self.cabinet.members]


@pytest.fixture
def voting(cabinet: Cabinet, installation_ca: Any, enrolled: Callable[..., Any]) -> VotingCabinet:  # noqa: F811
    """The cabinet's meeting in session; the chair and the four members each hold an enrolled device key and an API token."""
    Meeting.objects.filter(pk=cabinet.meeting.pk).update(state=Meeting.State.IN_SESSION)
    cabinet.refresh()
    result = VotingCabinet(cabinet=cabinet)
    for user in cabinet.voters:
        key, certificate = enrolled(user, label="iPad")
        _, token = identity_actions.register_device(user, name="tablet", user_agent="tests", source_ip=None)
        result.voters[user.pk] = Voter(user=user, key=key, certificate=certificate, token=token)
    return result


@pytest.fixture
def item_poll(voting: VotingCabinet) -> Poll:
    """An open approve/reject/abstain poll on the first item, simple majority, quorum 1/2."""
    poll = actions.create_poll(question="Thông qua Dự thảo Nghị định?", item=voting.cabinet.items[0], acting_user=voting.cabinet.chair)
    return actions.open_poll(poll, acting_user=voting.cabinet.chair)


def ballot_bytes(target: Poll, voter: Voter, choice: str = "approve", /, **override: Any) -> bytes:
    fields: dict[str, Any] = {
        "poll": target.pk,
        "question_sha256": target.statement_sha256,
        "voter": voter.user.pk,
        "certificate_sha256": voter.certificate.fingerprint,
        "choice": choice,
        "nonce": secrets.token_urlsafe(24),
        "client_time": datetime.now(UTC),
    }
    fields.update(override)
    return build_ballot(**fields)


def signed_body(target: Poll, voter: Voter, choice: str = "approve", /, *, key: ec.EllipticCurvePrivateKey | None = None, **override: Any) -> dict[str, Any]:
    data = ballot_bytes(target, voter, choice, **override)
    return {"ballot": data.decode(), "signature": base64.b64encode(sign(key or voter.key, data)).decode(), "totp": voter.code()}


def post_ballot(voter: Voter, poll: Poll, body: dict[str, Any]) -> Any:
    return Client().post(f"/api/v1/polls/{poll.pk}/ballots", body, content_type="application/json", **voter.auth())


def cast(voter: Voter, poll: Poll, choice: str = "approve") -> Any:
    """Cast through the action, as the API does."""
    data = ballot_bytes(poll, voter, choice)
    return actions.cast_ballot(poll, ballot=data, signature=sign(voter.key, data), totp=voter.code(), acting_user=voter.user)
