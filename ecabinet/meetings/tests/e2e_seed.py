"""Seed for the end-to-end browser test, run in a child with the server's environment:

``python -m ecabinet.meetings.tests.e2e_seed`` makes a government with its office, an office
secretary, a prime minister (chair) and three ministers, each with a password and an enrolled
authenticator (the secrets are printed, so the test computes the one-time codes), and nothing
else: the meeting and its agenda are built in the browser. Prints the people as JSON.
"""

from __future__ import annotations

import json
from typing import Any


def seed() -> dict[str, Any]:
    import django

    django.setup()
    from ecabinet.identity.models import Clearance, Role
    from ecabinet.identity.tests.factories import PASSWORD, GovernmentFactory, MinistryFactory, UserFactory
    from ecabinet.meetings.tests.factories import OfficeFactory

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
    return {
        "password": PASSWORD,
        **{key: {"id": u.pk, "username": u.username, "name": u.full_name, "totp": u.test_totp_secret} for key, u in people.items()},
    }


if __name__ == "__main__":
    print(json.dumps(seed()))
