"""A real ``ecabinet serve`` for the voting tests that need WebSocket or a separate client process.

``site(work)`` migrates a private database (an SQLite file, or a scratch PostgreSQL database when
the outer run uses PostgreSQL, with the outer run's Redis as the channel layer; without Redis the
serve process keeps its embedded in-memory layer), seeds it in a child with the server's
environment (``python -m ecabinet.voting.tests.live_site``) and starts the server with
``meetings.tests.live_servers`` (the one starter these tests share).

The seed: the installation CA, a government with its office secretary (who approves
certificates), the prime minister (chair) and three ministers, each with a password and an
enrolled authenticator (the secrets are printed so the test computes the codes); a meeting in
session with the ministers as members and one accepted item; a draft vote on that item and a
draft written consultation asking the three ministers. No signing key: the tests enrol them.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecabinet.identity.core import totp
from ecabinet.meetings.tests import live_servers

ITEM_QUESTION = "Thông qua Dự thảo Nghị định về đấu thầu điện tử?"
CONSULTATION_QUESTION = "Lấy ý kiến thành viên Chính phủ về Dự thảo Nghị quyết phiên họp thường kỳ?"


@dataclass
class Site:
    server: live_servers.Server
    env: dict[str, str]
    people: dict[str, Any]
    codes: Codes = field(default_factory=lambda: Codes())

    @property
    def url(self) -> str:
        return self.server.url

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``ecabinet ARGS`` in a child with the server's environment (same database and var/)."""
        result = subprocess.run([sys.executable, "-m", "ecabinet.cli", *args], env=self.env, capture_output=True, text=True, timeout=300)
        if check and result.returncode != 0:
            raise AssertionError(f"ecabinet {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
        return result

    def code(self, person: str) -> str:
        return self.codes.next(self.people[person]["totp"])


class Codes:
    """One-time codes the server will accept: each user's steps only go forward (a code is good
    once), and the server allows one step of clock drift, so the next code is the current step's,
    or the next step's if the current one is used. If both are used, wait for the clock (a
    condition, not a guess: at most one 30 s step)."""

    def __init__(self) -> None:
        self.last: dict[str, int] = {}

    def next(self, secret: str) -> str:
        while True:
            now = int(time.time() // totp.STEP_SECONDS)
            step = max(now, self.last.get(secret, -1) + 1)
            if step <= now + totp.WINDOW:
                self.last[secret] = step
                return totp.code_for(secret, now=step * totp.STEP_SECONDS)
            time.sleep((now + 1) * totp.STEP_SECONDS - time.time() + 0.05)


@contextlib.contextmanager
def site(work: Path, label: str) -> Iterator[Site]:
    with live_servers.private_database(work, f"{label}_{secrets.token_hex(3)}") as database_url:
        env = live_servers.child_env(work, database_url=database_url, redis_url=os.environ.get("ECABINET_REDIS_URL") or None)
        live_servers.run_cli(env, "migrate", "--noinput", "-v", "0")
        seeded = subprocess.run([sys.executable, "-m", "ecabinet.voting.tests.live_site"], env=env, capture_output=True, text=True, timeout=300)
        if seeded.returncode != 0:
            raise RuntimeError(f"seeding failed:\n{seeded.stdout}\n{seeded.stderr[-3000:]}")
        people = json.loads(seeded.stdout.strip().splitlines()[-1])
        server = live_servers.Server(env, live_servers.free_port(), work / "serve.log")
        try:
            server.wait_ready(timeout=120)
            yield Site(server=server, env=env, people=people)
        finally:
            server.stop()


def _seed() -> dict[str, Any]:
    import django

    django.setup()
    from datetime import timedelta

    from django.utils import timezone

    from ecabinet.identity.models import Clearance, Role
    from ecabinet.identity.tests.factories import PASSWORD, GovernmentFactory, MinistryFactory, UserFactory
    from ecabinet.meetings.models import Meeting, Participant
    from ecabinet.meetings.tests.factories import AgendaItemFactory, MeetingFactory, OfficeFactory
    from ecabinet.pki import actions as pki_actions
    from ecabinet.voting import actions

    pki_actions.init_authority(organisation="Chính phủ Việt Nam")  # a CA name is at most 64 characters
    gov = GovernmentFactory(name="Chính phủ nước Cộng hòa xã hội chủ nghĩa Việt Nam")
    office = OfficeFactory(parent=gov, name="Văn phòng Chính phủ")
    people = {
        "secretary": UserFactory(role=Role.SECRETARY, organisation=office, clearance=Clearance.SECRET, full_name="Trần Thị Thư Ký"),
        "chair": UserFactory(role=Role.CHAIR, organisation=gov, clearance=Clearance.SECRET, full_name="Phạm Minh Chủ Tịch"),
    }
    ministries = [("Bộ Tài chính", "BTC", "Nguyễn Văn An"), ("Bộ Tư pháp", "BTP", "Lê Thị Bình"), ("Bộ Y tế", "BYT", "Đỗ Văn Cường")]
    for n, (name, short, person) in enumerate(ministries, start=1):
        ministry = MinistryFactory(parent=gov, name=name, short_name=short)
        people[f"member{n}"] = UserFactory(role=Role.MEMBER, organisation=ministry, clearance=Clearance.SECRET, full_name=person)
    chair, members = people["chair"], [people[f"member{n}"] for n in (1, 2, 3)]
    meeting = MeetingFactory(
        organisation=gov, chair=chair, created_by=people["secretary"], state=Meeting.State.IN_SESSION, opened_at=timezone.now(), title="Phiên họp Chính phủ"
    )
    Participant.objects.bulk_create([Participant(meeting=meeting, user=u, kind=Participant.Kind.MEMBER) for u in members])
    item = AgendaItemFactory(meeting=meeting, order=1, proposed_by=people["secretary"], title="Dự thảo Nghị định về đấu thầu điện tử")
    vote = actions.create_poll(question=ITEM_QUESTION, item=item, quorum=(1, 2), acting_user=chair)
    consultation = actions.create_poll(
        question=CONSULTATION_QUESTION,
        voter_ids=[m.pk for m in members],
        deadline=timezone.now() + timedelta(hours=2),
        quorum=(2, 3),
        rule="absolute",
        acting_user=chair,
    )
    return {
        "password": PASSWORD,
        "meeting": meeting.pk,
        "item": item.pk,
        "vote": vote.pk,
        "consultation": consultation.pk,
        **{key: {"id": u.pk, "username": u.username, "name": u.full_name, "totp": u.test_totp_secret} for key, u in people.items()},
    }


if __name__ == "__main__":
    print(json.dumps(_seed()))
