"""Who may see and do what in meetings: role × participation × clearance, decided here only.

A meeting or item a user may not see does not exist for them (404); it never shows in lists,
counts or live events.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from ecabinet.identity.models import Organisation, Role, User
from ecabinet.identity.permissions import is_signed_in
from ecabinet.meetings.models import AgendaItem, ItemGuest, Meeting, Participant


def _government_id(org: Organisation | None) -> int | None:
    return org.government.pk if org is not None else None


def in_government(user: User, meeting: Meeting) -> bool:
    return _government_id(user.organisation) == _government_id(meeting.organisation)


def is_office_secretary(user: User) -> bool:
    """A secretary of the government office: builds agendas, runs the meeting for the chair."""
    return user.role == Role.SECRETARY and user.organisation is not None and user.organisation.kind == Organisation.Kind.OFFICE


def participation(user: User, meeting: Meeting) -> Participant | None:
    return Participant.objects.filter(meeting=meeting, user=user).first()


def is_chair(user: User, meeting: Meeting) -> bool:
    return meeting.chair_id == user.pk


def can_see_meeting(user: Any, meeting: Meeting) -> bool:
    if not is_signed_in(user) or not in_government(user, meeting):
        return False
    if user.role == Role.GUEST:
        # Guests see the meeting when invited to it, or to one of its items (and then only those).
        invited = participation(user, meeting) is not None or ItemGuest.objects.filter(item__meeting=meeting, user=user).exists()
        return invited and user.clearance >= _lowest_visible_level(user, meeting)
    if user.clearance < meeting.classification:
        return False
    if user.role == Role.SECRETARY or is_chair(user, meeting):
        return True
    return participation(user, meeting) is not None


def _lowest_visible_level(user: User, meeting: Meeting) -> int:
    if participation(user, meeting) is not None:
        return meeting.classification
    levels = ItemGuest.objects.filter(item__meeting=meeting, user=user).values_list("item__classification", flat=True)
    return min(levels, default=meeting.classification)


def can_see_item(user: Any, item: AgendaItem) -> bool:
    meeting = item.meeting
    if not can_see_meeting(user, meeting) or user.clearance < item.classification:
        return False
    if user.role == Role.GUEST and participation(user, meeting) is None:
        return ItemGuest.objects.filter(item=item, user=user).exists()
    if item.status != AgendaItem.Status.ACCEPTED:
        # Proposals are seen by secretaries and the one who proposed them, not yet by members.
        return user.role == Role.SECRETARY or item.proposed_by_id == user.pk or is_chair(user, meeting)
    return True


def visible_meetings(user: Any) -> QuerySet[Meeting]:
    if not is_signed_in(user) or user.organisation is None:
        return Meeting.objects.none()
    gov = user.organisation.government
    base = Meeting.objects.filter(Q(organisation=gov) | Q(organisation__parent=gov)).filter(classification__lte=user.clearance)
    if user.role == Role.SECRETARY:
        return base
    if user.role == Role.GUEST:
        return base.filter(Q(participants__user=user) | Q(items__guests__user=user)).distinct()
    return base.filter(Q(participants__user=user) | Q(chair=user)).distinct()


def visible_items(user: Any, meeting: Meeting) -> list[AgendaItem]:
    return [item for item in meeting.items.select_related("meeting") if can_see_item(user, item)]


def can_create_meeting(user: Any) -> bool:
    return is_signed_in(user) and is_office_secretary(user)


def can_manage_meeting(user: Any, meeting: Meeting) -> bool:
    """Edit the meeting, its participants and agenda; move it through its states."""
    return can_see_meeting(user, meeting) and (is_office_secretary(user) or is_chair(user, meeting))


def can_propose_item(user: Any, meeting: Meeting) -> bool:
    return can_see_meeting(user, meeting) and user.role == Role.SECRETARY


def can_review_item(user: Any, meeting: Meeting) -> bool:
    return can_see_meeting(user, meeting) and is_office_secretary(user)


def can_record_position(user: Any, item: AgendaItem) -> bool:
    if not can_see_item(user, item):
        return False
    part = participation(user, item.meeting)
    return is_chair(user, item.meeting) or (part is not None and part.kind == Participant.Kind.MEMBER)


def can_see_all_positions(user: Any, meeting: Meeting) -> bool:
    if is_chair(user, meeting) or user.role == Role.SECRETARY:
        return True
    return meeting.positions_visibility == Meeting.PositionsVisibility.ALL_MEMBERS


def can_run_session(user: Any, meeting: Meeting) -> bool:
    """Open, start and end items, grant the floor, adjourn, close: the chair or an office secretary."""
    return can_manage_meeting(user, meeting)


def can_attend(user: Any, meeting: Meeting) -> bool:
    return can_see_meeting(user, meeting) and (participation(user, meeting) is not None or is_chair(user, meeting))


def can_request_floor(user: Any, item: AgendaItem) -> bool:
    if not can_see_item(user, item):
        return False
    if user.role == Role.GUEST:
        return participation(user, item.meeting) is not None or ItemGuest.objects.filter(item=item, user=user).exists()
    part = participation(user, item.meeting)
    return is_chair(user, item.meeting) or (part is not None and part.kind in (Participant.Kind.MEMBER, Participant.Kind.GUEST))


def can_update_task(user: Any, task: Any) -> bool:
    if not is_signed_in(user):
        return False
    if task.assignee_id == user.pk:
        return True
    return is_office_secretary(user) and in_government(user, task.decision.item.meeting)


def can_see_missing_positions(user: Any, meeting: Meeting) -> bool:
    """Who has not answered yet: the secretaries running the meeting and the chair."""
    return can_manage_meeting(user, meeting)


def can_edit_item(user: Any, item: AgendaItem) -> bool:
    """The proposer while the item awaits review or was returned; an office secretary any time."""
    if not can_see_item(user, item):
        return False
    if can_review_item(user, item.meeting):
        return True
    return item.proposed_by_id == user.pk and item.status in (AgendaItem.Status.PROPOSED, AgendaItem.Status.RETURNED)


def can_withdraw_item(user: Any, item: AgendaItem) -> bool:
    return can_see_item(user, item) and item.proposed_by_id == user.pk


def can_manage_calendar(user: Any) -> bool:
    return is_signed_in(user)


# --- after the session: decisions, follow-up tasks, minutes, efficiency report ----------------


def can_record_decision(user: Any, item: AgendaItem) -> bool:
    """The chair, or an office secretary on the chair's behalf, writes the conclusion on an item."""
    return can_see_item(user, item) and can_run_session(user, item.meeting)


def can_assign_tasks(user: Any, item: AgendaItem) -> bool:
    return can_record_decision(user, item)


def _task_item(task: Any) -> AgendaItem:
    return task.decision.item  # type: ignore[no-any-return]


def _cleared_for_task(user: Any, task: Any) -> bool:
    item = _task_item(task)
    return is_signed_in(user) and in_government(user, item.meeting) and user.clearance >= max(item.classification, item.meeting.classification)


def can_see_task(user: Any, task: Any) -> bool:
    """Those who see the item, and the ministry and person it is assigned to (if cleared for it)."""
    if not is_signed_in(user):
        return False
    if can_see_item(user, _task_item(task)):
        return True
    assigned = task.assignee_id == user.pk or (user.organisation_id is not None and task.assignee_org_id == user.organisation_id)
    return assigned and user.role != Role.GUEST and _cleared_for_task(user, task)


def can_report_on_task(user: Any, task: Any) -> bool:
    """The assignee (or, for a task given to a ministry alone, its members and secretaries), or an office secretary."""
    if not can_see_task(user, task):
        return False
    if can_update_task(user, task):
        return True
    return task.assignee_id is None and task.assignee_org_id == user.organisation_id and user.role in (Role.MEMBER, Role.SECRETARY)


def tasks_assigned_to(user: Any) -> QuerySet[Any]:
    """The caller's own tasks and those of their ministry, within their clearance ("my tasks")."""
    from ecabinet.meetings.models import FollowUpTask

    if not is_signed_in(user) or user.role == Role.GUEST:
        return FollowUpTask.objects.none()
    mine = Q(assignee=user)
    if user.organisation_id is not None:
        mine |= Q(assignee_org_id=user.organisation_id)
    return FollowUpTask.objects.filter(mine).filter(
        decision__item__classification__lte=user.clearance,
        decision__item__meeting__classification__lte=user.clearance,
    )


def minutes_level(meeting: Meeting) -> int:
    """Minutes cover every accepted item, so they carry the highest classification among them."""
    levels = meeting.items.filter(status=AgendaItem.Status.ACCEPTED).values_list("classification", flat=True)
    return max([meeting.classification, *levels])


def can_write_minutes(user: Any, meeting: Meeting) -> bool:
    """Draft, edit and submit the minutes: the government office's secretaries."""
    return can_see_meeting(user, meeting) and is_office_secretary(user) and user.clearance >= minutes_level(meeting)


def can_approve_minutes(user: Any, meeting: Meeting) -> bool:
    return can_see_meeting(user, meeting) and is_chair(user, meeting) and user.clearance >= minutes_level(meeting)


def can_see_minutes(user: Any, minutes: Any) -> bool:
    """Drafts stay with the office and the chair; approved minutes go to the meeting's participants."""
    meeting = minutes.meeting
    if not can_see_meeting(user, meeting) or user.clearance < minutes_level(meeting):
        return False
    if is_chair(user, meeting) or is_office_secretary(user):
        return True
    if minutes.state != "approved":
        return False
    if user.role == Role.GUEST:
        return participation(user, meeting) is not None
    return True


def can_see_report(user: Any, meeting: Meeting) -> bool:
    return can_see_meeting(user, meeting) and user.role != Role.GUEST


def can_set_baseline(user: Any, organisation: Organisation) -> bool:
    """An office secretary or an administrator of the same government sets the baseline length."""
    if not is_signed_in(user) or user.organisation is None:
        return False
    if user.organisation.government.pk != organisation.government.pk:
        return False
    return is_office_secretary(user) or user.role == Role.ADMIN


def visible_items_at_once(user: Any, meeting: Meeting) -> list[AgendaItem]:
    """The same items as ``visible_items``, decided in a few queries instead of a few per item.

    The live channel computes this for every connecting tablet; a test holds it equal to
    ``can_see_item`` item by item.
    """
    if not can_see_meeting(user, meeting):
        return []
    items = [item for item in meeting.items.all() if user.clearance >= item.classification]
    for item in items:
        item.meeting = meeting
    if user.role == Role.GUEST and participation(user, meeting) is None:
        invited = set(ItemGuest.objects.filter(item__meeting=meeting, user=user).values_list("item_id", flat=True))
        return [item for item in items if item.pk in invited]
    privileged = user.role == Role.SECRETARY or is_chair(user, meeting)
    return [item for item in items if item.status == AgendaItem.Status.ACCEPTED or privileged or item.proposed_by_id == user.pk]


def may_request_floor_on_visible(user: Any, meeting: Meeting) -> bool:
    """``can_request_floor`` for any item the user can see (it does not vary by item once seen)."""
    if user.role == Role.GUEST:
        return True  # a guest sees an item only when invited to it or to the whole meeting
    part = participation(user, meeting)
    return is_chair(user, meeting) or (part is not None and part.kind in (Participant.Kind.MEMBER, Participant.Kind.GUEST))


# --- the same decisions as querysets (for lists over many meetings, e.g. document visibility) ---


def government_org_ids(government: Organisation) -> list[int]:
    """Ids of every organisation whose ``government`` is ``government`` (itself included)."""
    rows = {pk: (parent, kind) for pk, parent, kind in Organisation.objects.values_list("pk", "parent_id", "kind")}

    def root(pk: int) -> int:
        while True:
            parent, kind = rows[pk]
            if parent is None or kind == Organisation.Kind.GOVERNMENT:
                return pk
            pk = parent

    return [pk for pk in rows if root(pk) == government.pk]


def seen_meetings(user: Any) -> QuerySet[Meeting]:
    """Exactly the meetings for which ``can_see_meeting`` is true, in one query."""
    if not is_signed_in(user) or user.organisation is None:
        return Meeting.objects.none()
    base = Meeting.objects.filter(organisation_id__in=government_org_ids(user.organisation.government))
    attends = Exists(Participant.objects.filter(meeting=OuterRef("pk"), user=user))
    if user.role == Role.GUEST:
        invited_low_enough = Exists(ItemGuest.objects.filter(item__meeting=OuterRef("pk"), user=user, item__classification__lte=user.clearance))
        return base.filter((attends & Q(classification__lte=user.clearance)) | (~attends & invited_low_enough))
    base = base.filter(classification__lte=user.clearance)
    if user.role == Role.SECRETARY:
        return base
    return base.filter(Q(chair=user) | attends)


def seen_items(user: Any) -> QuerySet[AgendaItem]:
    """Exactly the agenda items for which ``can_see_item`` is true, in one query."""
    if not is_signed_in(user) or user.organisation is None:
        return AgendaItem.objects.none()
    items = AgendaItem.objects.filter(meeting__in=seen_meetings(user), classification__lte=user.clearance)
    open_to_all = Q(status=AgendaItem.Status.ACCEPTED) | Q(proposed_by=user) | Q(meeting__chair=user)
    if user.role == Role.SECRETARY:
        return items
    if user.role == Role.GUEST:
        attends = Exists(Participant.objects.filter(meeting=OuterRef("meeting"), user=user))
        invited = Exists(ItemGuest.objects.filter(item=OuterRef("pk"), user=user))
        return items.filter((~attends & invited) | (attends & open_to_all))
    return items.filter(open_to_all)
