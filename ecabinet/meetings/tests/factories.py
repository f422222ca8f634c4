"""Factories for meetings tests. Other apps' and engineers' tests import these; keep them stable.

Every related user is created in the meeting's organisation unless given, so access rules that
compare governments hold by default.
"""

from __future__ import annotations

from datetime import timedelta

import factory
from django.utils import timezone

from ecabinet.identity.models import Clearance, Organisation, Role
from ecabinet.identity.tests.factories import GovernmentFactory, UserFactory
from ecabinet.meetings.models import (
    AgendaItem,
    Attendance,
    CalendarFeed,
    Decision,
    ItemGuest,
    Meeting,
    MeetingRules,
    Participant,
    Position,
)


class OfficeFactory(factory.django.DjangoModelFactory):
    """The government office whose secretaries build agendas and run meetings for the chair."""

    class Meta:
        model = Organisation

    name = factory.Sequence(lambda n: f"Văn phòng Chính phủ {n}")
    short_name = "VPCP"
    kind = Organisation.Kind.OFFICE
    parent = factory.SubFactory(GovernmentFactory)


class MeetingRulesFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MeetingRules
        django_get_or_create = ("organisation",)

    organisation = factory.SubFactory(GovernmentFactory)


class MeetingFactory(factory.django.DjangoModelFactory):
    """A draft meeting three days ahead, two hours long, positions due two days ahead."""

    class Meta:
        model = Meeting

    organisation = factory.SubFactory(GovernmentFactory)
    kind = Meeting.Kind.REGULAR
    title = factory.Sequence(lambda n: f"Phiên họp Chính phủ thường kỳ số {n}")
    starts_at = factory.LazyFunction(lambda: (timezone.now() + timedelta(days=3)).replace(microsecond=0))
    planned_end = factory.LazyAttribute(lambda o: o.starts_at + timedelta(hours=2))
    place = "Phòng họp A, Văn phòng Chính phủ"
    chair = factory.SubFactory(UserFactory, role=Role.CHAIR, organisation=factory.SelfAttribute("..organisation"))
    classification = Clearance.INTERNAL
    state = Meeting.State.DRAFT
    positions_deadline = factory.LazyAttribute(lambda o: o.starts_at - timedelta(days=1))
    created_by = factory.SelfAttribute("chair")


class ParticipantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Participant

    meeting = factory.SubFactory(MeetingFactory)
    user = factory.SubFactory(UserFactory, role=Role.MEMBER, organisation=factory.SelfAttribute("..meeting.organisation"))
    kind = Participant.Kind.MEMBER


class AgendaItemFactory(factory.django.DjangoModelFactory):
    """An ACCEPTED decision item by default (the model's default status is PROPOSED)."""

    class Meta:
        model = AgendaItem

    meeting = factory.SubFactory(MeetingFactory)
    order = factory.Sequence(lambda n: n + 1)
    title = factory.Sequence(lambda n: f"Tờ trình số {n} về dự thảo Nghị định")
    planned_minutes = 15
    kind = AgendaItem.Kind.DECISION
    classification = Clearance.INTERNAL
    status = AgendaItem.Status.ACCEPTED
    proposed_by = factory.SubFactory(UserFactory, role=Role.SECRETARY, organisation=factory.SelfAttribute("..meeting.organisation"))


class ItemGuestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ItemGuest

    item = factory.SubFactory(AgendaItemFactory)
    user = factory.SubFactory(UserFactory, role=Role.GUEST, organisation=factory.SelfAttribute("..item.meeting.organisation"))


class PositionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Position

    item = factory.SubFactory(AgendaItemFactory)
    user = factory.SubFactory(UserFactory, role=Role.MEMBER, organisation=factory.SelfAttribute("..item.meeting.organisation"))
    stance = Position.Stance.AGREE


class DecisionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Decision

    item = factory.SubFactory(AgendaItemFactory)
    text = "Thống nhất thông qua."
    recorded_by = factory.SelfAttribute("item.meeting.chair")


class AttendanceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Attendance

    meeting = factory.SubFactory(MeetingFactory)
    user = factory.SubFactory(UserFactory, role=Role.MEMBER, organisation=factory.SelfAttribute("..meeting.organisation"))
    mode = Attendance.Mode.IN_ROOM
    checked_in_by = factory.SelfAttribute("user")


class CalendarFeedFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CalendarFeed

    user = factory.SubFactory(UserFactory)
    token_hash = factory.Sequence(lambda n: f"{n:064x}")
