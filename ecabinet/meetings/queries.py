"""Read-only questions about meetings that the API, the pages and the CLI share."""

from __future__ import annotations

from typing import Any

from ecabinet.identity.models import User
from ecabinet.meetings import permissions
from ecabinet.meetings.models import AgendaItem, Meeting, Participant, Position


def voters(meeting: Meeting) -> list[User]:
    """The chair and the member participants: the people who record positions."""
    users = {meeting.chair_id: meeting.chair}
    for part in Participant.objects.filter(meeting=meeting, kind=Participant.Kind.MEMBER).select_related("user").order_by("user__full_name", "user_id"):
        users.setdefault(part.user_id, part.user)
    return list(users.values())


def position_items(user: Any, meeting: Meeting) -> list[AgendaItem]:
    """The accepted decision items the user can see, in agenda order."""
    return [item for item in agenda(user, meeting) if item.kind == AgendaItem.Kind.DECISION]


def agenda(user: Any, meeting: Meeting) -> list[AgendaItem]:
    return [item for item in permissions.visible_items(user, meeting) if item.status == AgendaItem.Status.ACCEPTED]


def expected_for(item: AgendaItem, everyone: list[User]) -> list[User]:
    """Voters cleared for the item: the others cannot see it, so they are not expected to answer."""
    return [user for user in everyone if user.clearance >= item.classification]


def missing_positions(meeting: Meeting, items: list[AgendaItem]) -> list[tuple[AgendaItem, list[User], int]]:
    """Per item: who has not answered yet, and how many were expected."""
    everyone = voters(meeting)
    answered: dict[int, set[int]] = {}
    for item_id, user_id in Position.objects.filter(item__in=items).values_list("item_id", "user_id"):
        answered.setdefault(item_id, set()).add(user_id)
    result = []
    for item in items:
        expected = expected_for(item, everyone)
        result.append((item, [u for u in expected if u.pk not in answered.get(item.pk, set())], len(expected)))
    return result


def visible_positions(user: Any, item: AgendaItem) -> list[Position]:
    """Every position when the meeting lets the user see them all; otherwise only their own."""
    found = Position.objects.filter(item=item).select_related("user").order_by("user__full_name", "user_id")
    if permissions.can_see_all_positions(user, item.meeting):
        return list(found)
    return list(found.filter(user=user))
