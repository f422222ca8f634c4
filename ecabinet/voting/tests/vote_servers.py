"""A real ``ecabinet serve`` with many enrolled voters: for the burst and kill -9 tests and bench/vote_burst.py.

``python -m ecabinet.voting.tests.vote_servers seed --voters N`` (with the server's environment)
sets up the installation CA, a government with a chair and N members, each with a device key,
an approved certificate (through the real PKI actions), a TOTP secret and an API token, and an open
written consultation; it prints JSON with everything a client needs. The members' private keys
are printed because the harness plays their devices: this is test data, never a real key.
"""

from __future__ import annotations

import argparse
import base64
import json
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ecabinet.identity.core import totp
from ecabinet.meetings.tests.live_servers import Server, child_env, free_port, private_database, run_cli  # noqa: F401 - re-exported
from ecabinet.voting.core.ballot import build_ballot


@dataclass
class Member:
    id: int
    token: str
    totp_secret: str
    key: ec.EllipticCurvePrivateKey
    fingerprint: str

    def ballot(self, poll: dict[str, Any], choice: str) -> tuple[bytes, bytes]:
        data = build_ballot(
            poll=poll["id"],
            question_sha256=poll["question_sha256"],
            voter=self.id,
            certificate_sha256=self.fingerprint,
            choice=choice,
            nonce=secrets.token_urlsafe(24),
            client_time=datetime.now(UTC),
        )
        return data, self.key.sign(data, ec.ECDSA(hashes.SHA256()))

    def body(self, poll: dict[str, Any], choice: str) -> dict[str, Any]:
        data, signature = self.ballot(poll, choice)
        return {"ballot": data.decode(), "signature": base64.b64encode(signature).decode(), "totp": totp.code_for(self.totp_secret)}


def members_from(seed: dict[str, Any]) -> list[Member]:
    return [
        Member(
            id=m["id"],
            token=m["token"],
            totp_secret=m["totp"],
            key=serialization.load_pem_private_key(m["key"].encode(), password=None),  # type: ignore[arg-type]
            fingerprint=m["fingerprint"],
        )
        for m in seed["members"]
    ]


def post_ballot(http: requests.Session, base: str, member: Member, poll_id: int, body: dict[str, Any], timeout: float = 60) -> requests.Response:
    return http.post(f"{base}/api/v1/polls/{poll_id}/ballots", json=body, headers={"Authorization": f"Bearer {member.token}"}, timeout=timeout)


def seed(env: dict[str, str], *, voters: int, polls: int = 1) -> dict[str, Any]:
    import subprocess
    import sys

    command = [sys.executable, "-m", "ecabinet.voting.tests.vote_servers", "seed", "--voters", str(voters), "--polls", str(polls)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1200)
    if result.returncode != 0:
        raise RuntimeError(f"seeding failed:\n{result.stdout}\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _seed(voters: int, polls: int = 1) -> dict[str, Any]:
    import django

    django.setup()
    from datetime import timedelta

    from django.db import transaction
    from django.utils import timezone

    from ecabinet.identity import actions as identity_actions
    from ecabinet.identity.models import Role, User
    from ecabinet.identity.tests.factories import GovernmentFactory, UserFactory
    from ecabinet.meetings.tests.factories import OfficeFactory
    from ecabinet.pki import actions as pki_actions
    from ecabinet.pki.core.csr import build_csr
    from ecabinet.voting import actions
    from ecabinet.voting.api import poll_out

    pki_actions.init_authority(organisation="Chính phủ (bench)")
    gov = GovernmentFactory()
    office = OfficeFactory(parent=gov)
    secretary = UserFactory(role=Role.SECRETARY, organisation=office, username="secretary", mfa=False)
    chair = UserFactory(role=Role.CHAIR, organisation=gov, username="chair", mfa=False)
    # No password hashing for hundreds of members: they sign in with device tokens only.
    users = User.objects.bulk_create(
        [User(username=f"v{n}", full_name=f"Bộ trưởng {n}", role=Role.MEMBER, organisation=gov, password="!") for n in range(voters)]
    )
    members = []
    for user in users:
        secret = totp.new_secret()
        user.totp_secret = _seal(secret)
        user.totp_confirmed_at = timezone.now()
        User.objects.filter(pk=user.pk).update(totp_secret=user.totp_secret, totp_confirmed_at=user.totp_confirmed_at)
        key = ec.generate_private_key(ec.SECP256R1())
        csr = build_csr(key, label="bench").public_bytes(serialization.Encoding.PEM).decode()
        request = pki_actions.request_enrolment(user, csr=csr, device_label="bench", source="client", acting_user=user, source_ip=None)
        cert = pki_actions.approve_enrolment(request, acting_user=secretary, source_ip=None)
        _, token = identity_actions.register_device(user, name="bench", user_agent="bench", source_ip=None)
        members.append(
            {
                "id": user.pk,
                "token": token,
                "totp": secret,
                "fingerprint": cert.fingerprint,
                "key": key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode(),
            }
        )
    opened = []
    for number in range(max(1, polls)):
        with transaction.atomic():
            poll = actions.create_poll(
                question="Lấy ý kiến thành viên Chính phủ về dự thảo Nghị quyết?" + (f" ({number + 1})" if number else ""),
                voter_ids=[u.pk for u in users],
                deadline=timezone.now() + timedelta(hours=6),
                acting_user=chair,
            )
        actions.open_poll(poll, acting_user=chair)
        poll.refresh_from_db()
        opened.append(json.loads(json.dumps(poll_out(poll, chair), default=str)))
    _, chair_token = identity_actions.register_device(chair, name="bench", user_agent="bench", source_ip=None)
    return {"poll": opened[0], "polls": opened, "chair_token": chair_token, "members": members}


def _seal(secret: str) -> str:
    from django.conf import settings

    from ecabinet.identity import actions as identity_actions
    from ecabinet.identity.core import secretbox

    return secretbox.seal(settings.SECRET_KEY, identity_actions.TOTP_PURPOSE, secret)  # type: ignore[no-any-return]


def wait_next_step() -> None:
    """Until a new TOTP step begins: a member's next code must be for a later step than the last."""
    time.sleep(totp.STEP_SECONDS - (time.time() % totp.STEP_SECONDS) + 0.2)


def wait_code_window() -> None:
    """A fresh TOTP step for every member: wait if the current step ends within two seconds."""
    remaining = totp.STEP_SECONDS - (time.time() % totp.STEP_SECONDS)
    if remaining < 2:
        time.sleep(remaining + 0.1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["seed"])
    parser.add_argument("--voters", type=int, default=10)
    parser.add_argument("--polls", type=int, default=1, help="open written consultations, each with every member eligible")
    args = parser.parse_args()
    print(json.dumps(_seed(max(1, args.voters), max(1, args.polls))))


if __name__ == "__main__":
    main()
