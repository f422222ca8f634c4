"""Fixtures for meetings tests: a whole cabinet with a scheduled meeting."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from ecabinet.identity.models import Organisation, Role, User
from ecabinet.identity.tests.factories import GovernmentFactory, MinistryFactory, UserFactory
from ecabinet.meetings.models import AgendaItem, Meeting, Participant
from ecabinet.meetings.tests.factories import (
    AgendaItemFactory,
    MeetingFactory,
    MeetingRulesFactory,
    OfficeFactory,
    ParticipantFactory,
)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    """Argon2 is deliberately slow and the cabinet has eight people; sign-in is proven in identity's tests."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@dataclass
class Cabinet:
    government: Organisation
    office: Organisation
    ministry: Organisation
    office_secretary: User
    chair: User
    members: list[User]
    ministry_secretary: User
    guest: User
    meeting: Meeting
    items: list[AgendaItem] = field(default_factory=list)

    @property
    def voters(self) -> list[User]:
        """Everyone who records positions: the chair and the members."""
        return [self.chair, *self.members]

    def refresh(self) -> None:
        self.meeting.refresh_from_db()
        for item in self.items:
            item.refresh_from_db()


@pytest.fixture
def cabinet(db: None) -> Cabinet:
    """A government, its office and a ministry; the office secretary, the chair, four members, a
    ministry secretary and a guest; and a SCHEDULED meeting (starts in 3 days, positions due in 2)
    with all of them but the ministry secretary as participants, and three ACCEPTED decision items
    proposed by the ministry secretary for the ministry.
    """
    government = GovernmentFactory(name="Chính phủ nước Cộng hoà Xã hội chủ nghĩa Việt Nam")
    MeetingRulesFactory(organisation=government)
    office = OfficeFactory(parent=government)
    ministry = MinistryFactory(parent=government, name="Bộ Tài chính")
    office_secretary = UserFactory(role=Role.SECRETARY, organisation=office, full_name="Thư ký Văn phòng")
    chair = UserFactory(role=Role.CHAIR, organisation=government, full_name="Thủ tướng")
    members = [UserFactory(role=Role.MEMBER, organisation=ministry, full_name=f"Bộ trưởng {n}") for n in range(1, 5)]
    ministry_secretary = UserFactory(role=Role.SECRETARY, organisation=ministry, full_name="Thư ký Bộ")
    guest = UserFactory(role=Role.GUEST, organisation=government, full_name="Khách mời")
    starts = (timezone.now() + timedelta(days=3)).replace(microsecond=0)
    meeting = MeetingFactory(
        organisation=government,
        chair=chair,
        created_by=office_secretary,
        state=Meeting.State.SCHEDULED,
        starts_at=starts,
        planned_end=starts + timedelta(hours=2),
        positions_deadline=starts - timedelta(days=1),
    )
    ParticipantFactory(meeting=meeting, user=chair, kind=Participant.Kind.MEMBER)
    for member in members:
        ParticipantFactory(meeting=meeting, user=member, kind=Participant.Kind.MEMBER)
    ParticipantFactory(meeting=meeting, user=office_secretary, kind=Participant.Kind.SECRETARY)
    ParticipantFactory(meeting=meeting, user=guest, kind=Participant.Kind.GUEST)
    items = [
        AgendaItemFactory(
            meeting=meeting,
            order=n,
            title=title,
            presenting_org=ministry,
            presenter=members[0],
            proposed_by=ministry_secretary,
            reviewed_by=office_secretary,
        )
        for n, title in enumerate(
            [
                "Dự thảo Nghị định về quản lý ngân sách",
                "Đề án chuyển đổi số quốc gia",
                "Báo cáo tình hình kinh tế - xã hội tháng",
            ],
            start=1,
        )
    ]
    return Cabinet(
        government=government,
        office=office,
        ministry=ministry,
        office_secretary=office_secretary,
        chair=chair,
        members=members,
        ministry_secretary=ministry_secretary,
        guest=guest,
        meeting=meeting,
        items=items,
    )
