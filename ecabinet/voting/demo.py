"""Signed votes for ``ecabinet seed-demo``: a closed vote in a past meeting, a closed written
consultation, and a sealed decision PDF.

Every demo voter gets their own key in a PKCS#12 file (``var/demo-keys/USERNAME.p12``, passphrase
the demo password), made and enrolled as ``ecabinet-sign keygen`` / ``enrol`` do, approved by the
office secretary; each ballot is built and signed by ``ecabinet.voting.client`` and sent through
the same JSON API a tablet or ``ecabinet-sign vote`` uses (in-process, with the member's device
token), including the one-time-code step-up. Nothing is written straight into the ballot table.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.test import Client
from django.utils import timezone

from ecabinet.identity import actions as identity_actions
from ecabinet.identity import demo as identity_demo
from ecabinet.identity.core import totp
from ecabinet.identity.models import User
from ecabinet.meetings import followup
from ecabinet.meetings.models import AgendaItem, Meeting, Participant
from ecabinet.pki import actions as pki_actions
from ecabinet.pki import authority
from ecabinet.pki import client as pki_client
from ecabinet.pki.models import EnrolmentRequest
from ecabinet.voting import actions, decisions
from ecabinet.voting import client as vote_client
from ecabinet.voting.models import Poll

VOTERS = ["thutuong", "pho.thutuong", "bt.taichinh", "bt.tuphap", "bt.ngoaigiao", "bt.noivu", "bt.yte"]
CHOICES = ["approve", "approve", "approve", "approve", "reject", "approve", "abstain"]
CONSULTATION = ["agree", "agree", "agree", "object", "agree", "abstain", "agree"]


class InProcessApi:
    """``pki.client.Api``'s interface over Django's test client: the same URLs, auth and checks."""

    def __init__(self, token: str) -> None:
        self.client = Client(HTTP_HOST=settings.ALLOWED_HOSTS[0] if settings.ALLOWED_HOSTS and settings.ALLOWED_HOSTS[0] != "*" else "localhost")
        self.token = token

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        url = "/api/v1" + path
        if method == "GET":
            response = self.client.get(url, headers=headers)
        else:
            response = self.client.generic(method, url, json.dumps(body or {}), content_type="application/json", headers=headers)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.content[:300]!r}")
        return response.json()


def _code(user: User, step: int) -> str:
    secret = identity_actions.pending_totp_secret(user)
    return totp.code_for(secret, now=step * totp.STEP_SECONDS)  # type: ignore[arg-type]


def _device(user: User, key_dir: Path, secretary: User) -> tuple[Any, Any, InProcessApi]:
    """The member's own key in a PKCS#12 file, enrolled through the API and approved."""
    _, token = identity_actions.register_device(user, name="ecabinet-sign (demo)", user_agent="seed-demo", source_ip=None)
    api = InProcessApi(token)
    path = key_dir / f"{user.username}.p12"
    passphrase = identity_demo.DEMO_PASSWORD.encode()
    key = pki_client.generate_p12(path, passphrase) if not path.exists() else pki_client.load_p12(path, passphrase)[0]
    request = api.call("POST", "/pki/requests", {"csr": pki_client.csr_pem(key, "Demo laptop"), "device_label": "Demo laptop", "source": "client"})
    pki_actions.approve_enrolment(EnrolmentRequest.objects.get(pk=request["id"]), acting_user=secretary, source_ip=None)
    issued = api.call("GET", f"/pki/requests/{request['id']}")["certificate"]["certificate_pem"]
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(issued.encode())
    pki_client.write_p12(path, key, passphrase, cert, x509.load_pem_x509_certificates(authority.chain_pem().encode()))
    return key, cert, api


def seed() -> dict[str, int]:
    """Add the demo's signed votes (idempotent: does nothing if a poll exists)."""
    if Poll.objects.exists():
        return {}
    users = {u.username: u for u in User.objects.filter(username__in=[*VOTERS, "thuky.vpcp"]).select_related("organisation")}
    if len(users) != len(VOTERS) + 1:
        return {}
    chair, secretary = users["thutuong"], users["thuky.vpcp"]
    government = chair.organisation.government  # type: ignore[union-attr]
    if authority.mode() == "uninitialised":
        pki_actions.init_authority(organisation="Chính phủ Việt Nam")
    key_dir = Path(settings.VAR_DIR) / "demo-keys"
    key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    devices = {name: _device(users[name], key_dir, secretary) for name in VOTERS}

    # A past meeting with one decision item, voted in session.
    start = (timezone.now() - timedelta(days=7)).replace(hour=8, minute=30, second=0, microsecond=0)
    with transaction.atomic():
        meeting = Meeting.objects.create(
            organisation=government,
            title="Phiên họp Chính phủ thường kỳ (demo, đã họp)",
            starts_at=start,
            planned_end=start + timedelta(hours=3),
            place="Phòng họp Chính phủ",
            chair=chair,
            state=Meeting.State.IN_SESSION,
            created_by=secretary,
            opened_at=start,
        )
        Participant.objects.bulk_create([Participant(meeting=meeting, user=users[n], kind=Participant.Kind.MEMBER) for n in VOTERS])
        Participant.objects.create(meeting=meeting, user=secretary, kind=Participant.Kind.SECRETARY)
        item = AgendaItem.objects.create(
            meeting=meeting,
            order=1,
            title="Dự thảo Nghị định về quản lý ngân sách nhà nước",
            kind=AgendaItem.Kind.DECISION,
            status=AgendaItem.Status.ACCEPTED,
            proposed_by=secretary,
            reviewed_by=secretary,
            presenting_org=users["bt.taichinh"].organisation,
        )
    step = int(timezone.now().timestamp() // totp.STEP_SECONDS)
    poll = actions.create_poll(question="Thông qua Dự thảo Nghị định về quản lý ngân sách nhà nước?", item=item, rule="absolute", acting_user=chair)
    actions.open_poll(poll, acting_user=chair)
    data = devices["thutuong"][2].call("GET", f"/polls/{poll.pk}")
    for name, choice in zip(VOTERS, CHOICES, strict=True):
        key, cert, api = devices[name]
        vote_client.cast(api, poll.pk, vote_client.sign_ballot(data, key=key, certificate=cert, voter=users[name].pk, choice=choice), _code(users[name], step))
    actions.close_poll(poll, acting_user=chair)
    decision = followup.record_decision(
        item, text="Chính phủ thông qua Dự thảo Nghị định; giao Bộ Tài chính hoàn thiện và trình ký ban hành.", acting_user=chair
    )
    Meeting.objects.filter(pk=meeting.pk).update(state=Meeting.State.CLOSED, closed_at=start + timedelta(hours=2, minutes=40))

    # A written consultation between meetings, with custom options, closed after everyone answered.
    consultation = actions.create_poll(
        question="Lấy ý kiến thành viên Chính phủ về dự thảo Nghị quyết phiên họp chuyên đề xây dựng pháp luật",
        voter_ids=[users[n].pk for n in VOTERS],
        deadline=timezone.now() + timedelta(days=2),
        options=[("agree", "Đồng ý"), ("object", "Không đồng ý"), ("abstain", "Không có ý kiến")],
        rule="simple",
        quorum=(2, 3),
        acting_user=chair,
    )
    actions.open_poll(consultation, acting_user=chair)
    data = devices["thutuong"][2].call("GET", f"/polls/{consultation.pk}")
    for name, choice in zip(VOTERS, CONSULTATION, strict=True):
        key, cert, api = devices[name]
        vote_client.cast(
            api, consultation.pk, vote_client.sign_ballot(data, key=key, certificate=cert, voter=users[name].pk, choice=choice), _code(users[name], step + 1)
        )
    actions.close_poll(consultation, acting_user=chair)

    decisions.create_office_seal(acting_user=secretary)
    document = decisions.sign_decision(decision, acting_user=chair)
    return {"poll": poll.pk, "consultation": consultation.pk, "signed_decision": document.pk}
