"""Every change to meetings, their agenda, positions, the consent block and calendar feeds.

Each action is atomic, takes the acting user keyword-only, checks who may do it and when, writes
one audit entry, and pushes its live event (and queues any task) only after commit. Editable rows
are locked (``SELECT … FOR UPDATE``) and their ``version`` compared before a write, so a stale
write is refused with 409 instead of silently overwriting someone else's change.

The live session (items started and ended, speakers, attendance) lives in ``meetings.live``; minutes,
decisions recorded in session and follow-up tasks in ``meetings.followup``.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from ecabinet import errors as base_errors
from ecabinet.audit.actions import record
from ecabinet.identity.models import Organisation, Role, User
from ecabinet.meetings import broadcast, errors, events, permissions
from ecabinet.meetings.models import AgendaItem, CalendarFeed, Decision, ItemGuest, Meeting, Participant, Position

CONSENT_DECISION_TEXT = "Thống nhất thông qua theo đề xuất (không thảo luận)."

# Which state each transition starts from, and where it goes.
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "schedule": ((Meeting.State.DRAFT,), Meeting.State.SCHEDULED),
    "publish": ((Meeting.State.SCHEDULED,), Meeting.State.DOSSIER_PUBLISHED),
    "open": ((Meeting.State.DOSSIER_PUBLISHED,), Meeting.State.IN_SESSION),
    "adjourn": ((Meeting.State.IN_SESSION,), Meeting.State.ADJOURNED),
    "resume": ((Meeting.State.ADJOURNED,), Meeting.State.IN_SESSION),
    "close": ((Meeting.State.IN_SESSION, Meeting.State.ADJOURNED), Meeting.State.CLOSED),
    "cancel": ((Meeting.State.DRAFT, Meeting.State.SCHEDULED, Meeting.State.DOSSIER_PUBLISHED), Meeting.State.CANCELLED),
}
FINISHED = (Meeting.State.CLOSED, Meeting.State.CANCELLED)
# The agenda can be built until the session opens.
PREPARING = (Meeting.State.DRAFT, Meeting.State.SCHEDULED, Meeting.State.DOSSIER_PUBLISHED)
MEETING_FIELDS = (
    "kind",
    "title",
    "starts_at",
    "planned_end",
    "place",
    "online_link",
    "classification",
    "positions_deadline",
    "positions_visibility",
    "allow_substitutes",
)
ITEM_FIELDS = ("title", "summary", "presenting_org", "presenter", "planned_minutes", "kind", "classification", "document_refs")


# --- helpers ---------------------------------------------------------------------------------


def _lock_meeting(meeting: Meeting) -> Meeting:
    return Meeting.objects.select_for_update().select_related("organisation").get(pk=meeting.pk)


def _lock_item(item: AgendaItem) -> AgendaItem:
    return AgendaItem.objects.select_for_update().select_related("meeting").get(pk=item.pk)


def _check_version(obj: Meeting | AgendaItem, version: int | None, *, required: bool = True) -> None:
    if version is None:
        if required:
            raise errors.VersionRequired()
        return
    if version != obj.version:
        raise errors.StaleVersion(f"You edited version {version}; the current version is {obj.version}.", current_version=obj.version)


def _bump(meeting: Meeting) -> None:
    meeting.version += 1
    meeting.save(update_fields=["version"])


def _refresh(*objs: Any) -> None:
    for obj in objs:
        obj.refresh_from_db()


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "pk"):
        return value.pk
    return value


def _same_government(org: Organisation | None, meeting: Meeting) -> bool:
    return org is not None and org.government.pk == meeting.organisation.government.pk


def _state_event(meeting: Meeting) -> None:
    broadcast.publish(meeting.pk, "meeting.state", {"state": meeting.state, "version": meeting.version}, min_level=meeting.classification)


def _validate_times(starts_at: datetime, planned_end: datetime, deadline: datetime | None) -> None:
    if planned_end <= starts_at:
        raise errors.InvalidMeetingData("The planned end must be after the start.", field="planned_end")
    if deadline is not None and deadline > starts_at:
        raise errors.InvalidMeetingData("The positions deadline must not be after the start of the meeting.", field="positions_deadline")


def _validate_member_user(user: User, meeting: Meeting, *, field: str) -> None:
    if not _same_government(user.organisation, meeting) or not user.is_active:
        raise errors.InvalidMeetingData("That person is not in this government.", field=field)
    if user.clearance < meeting.classification:
        raise errors.InvalidMeetingData("That person's clearance is below the meeting's classification.", field=field)


# --- meetings --------------------------------------------------------------------------------


def create_meeting(
    *,
    acting_user: User,
    title: str,
    starts_at: datetime,
    planned_end: datetime,
    chair: User,
    organisation: Organisation | None = None,
    kind: str = Meeting.Kind.REGULAR,
    place: str = "",
    online_link: str = "",
    classification: int | None = None,
    positions_deadline: datetime | None = None,
    positions_visibility: str = Meeting.PositionsVisibility.ALL_MEMBERS,
    allow_substitutes: bool = True,
    source_ip: str | None = None,
) -> Meeting:
    """A draft meeting of the acting secretary's government; the chair becomes a participant."""
    if not permissions.can_create_meeting(acting_user):
        raise base_errors.Forbidden("Only a secretary of the government office can create meetings.")
    organisation = organisation or acting_user.organisation.government  # type: ignore[union-attr]
    if organisation.government.pk != acting_user.organisation.government.pk:  # type: ignore[union-attr]
        raise errors.InvalidMeetingData("The meeting must belong to your own government.", field="organisation")
    level = Meeting._meta.get_field("classification").default if classification is None else classification
    if level > acting_user.clearance:
        raise errors.InvalidMeetingData("You cannot create a meeting above your own clearance.", field="classification")
    _validate_times(starts_at, planned_end, positions_deadline)
    with transaction.atomic():
        meeting = Meeting(
            organisation=organisation,
            kind=kind,
            title=title,
            starts_at=starts_at,
            planned_end=planned_end,
            place=place,
            online_link=online_link,
            chair=chair,
            classification=level,
            positions_deadline=positions_deadline,
            positions_visibility=positions_visibility,
            allow_substitutes=allow_substitutes,
            created_by=acting_user,
        )
        _validate_member_user(chair, meeting, field="chair_id")
        if chair.role not in (Role.CHAIR, Role.MEMBER):
            raise errors.InvalidMeetingData("The chair must be the chair or a member of the government.", field="chair_id")
        meeting.save()
        Participant.objects.create(meeting=meeting, user=chair, kind=Participant.Kind.MEMBER)
        record(
            events.MEETING_CREATED,
            actor=acting_user,
            obj=meeting,
            source_ip=source_ip,
            details={"title": title, "starts_at": starts_at.isoformat(), "classification": level, "chair": chair.pk},
        )
    return meeting


def update_meeting(meeting: Meeting, *, acting_user: User, version: int | None, changes: dict[str, Any], source_ip: str | None = None) -> Meeting:
    """Change the meeting's details. Refused once it is closed or cancelled, or if ``version`` is stale."""
    unknown = set(changes) - set(MEETING_FIELDS)
    if unknown:
        raise errors.InvalidMeetingData(f"These fields cannot be changed here: {', '.join(sorted(unknown))}.")
    deadline_changed = False
    with transaction.atomic():
        locked = _lock_meeting(meeting)
        if not permissions.can_manage_meeting(acting_user, locked):
            raise base_errors.NotFound()
        if locked.state in FINISHED:
            raise errors.WrongState(f"The meeting is {locked.state}; it can no longer be edited.", state=locked.state)
        _check_version(locked, version)
        if "classification" in changes and changes["classification"] > acting_user.clearance:
            raise errors.InvalidMeetingData("You cannot raise a meeting above your own clearance.", field="classification")
        before = {name: _jsonable(getattr(locked, name)) for name in changes}
        for name, value in changes.items():
            setattr(locked, name, value)
        _validate_times(locked.starts_at, locked.planned_end, locked.positions_deadline)
        deadline_changed = before.get("positions_deadline", _jsonable(locked.positions_deadline)) != _jsonable(locked.positions_deadline)
        locked.version += 1
        locked.save()
        record(
            events.MEETING_UPDATED,
            actor=acting_user,
            obj=locked,
            source_ip=source_ip,
            details={"before": before, "after": {name: _jsonable(getattr(locked, name)) for name in changes}, "version": locked.version},
        )
        broadcast.publish(locked.pk, "meeting.updated", {"version": locked.version, "fields": sorted(changes)}, min_level=locked.classification)
        if deadline_changed and locked.state == Meeting.State.DOSSIER_PUBLISHED:
            _queue_consent_task(locked)
        from ecabinet.notify import hooks

        hooks.meeting_updated(locked, sorted(changes), acting_user=acting_user)
    _refresh(meeting)
    return meeting


def _queue_consent_task(meeting: Meeting) -> None:
    if meeting.positions_deadline is None:
        return
    from ecabinet.meetings.tasks import propose_consent_at_deadline

    meeting_id, eta = meeting.pk, meeting.positions_deadline
    transaction.on_commit(lambda: propose_consent_at_deadline.apply_async((meeting_id,), eta=eta))


def transition(meeting: Meeting, action: str, *, acting_user: User, version: int | None = None, source_ip: str | None = None) -> Meeting:
    """Move the meeting through its states; a transition out of order is refused with 409."""
    if action not in TRANSITIONS:
        raise base_errors.InvalidInput(f"Unknown transition {action!r}.")
    sources, target = TRANSITIONS[action]
    with transaction.atomic():
        locked = _lock_meeting(meeting)
        session_action = action in ("open", "adjourn", "resume", "close")
        allowed = permissions.can_run_session(acting_user, locked) if session_action else permissions.can_manage_meeting(acting_user, locked)
        if not allowed:
            if permissions.can_see_meeting(acting_user, locked):
                raise base_errors.Forbidden("Only the chair or a secretary of the government office can do this.")
            raise base_errors.NotFound()
        _check_version(locked, version, required=False)
        if locked.state not in sources:
            raise errors.WrongState(f"Cannot {action} a meeting that is {locked.state}; it must be {' or '.join(sources)}.", state=locked.state, action=action)
        now = timezone.now()
        if action == "publish":
            if not locked.items.filter(status=AgendaItem.Status.ACCEPTED).exists():
                raise errors.WrongState("The dossier needs at least one accepted agenda item.", state=locked.state, action=action)
            locked.dossier_published_at = now
        elif action == "open":
            locked.opened_at = locked.opened_at or now
        elif action == "adjourn":
            locked.adjourned_at = now
        elif action == "resume":
            locked.adjourned_at = None
        elif action == "close":
            locked.closed_at = now
        elif action == "cancel":
            locked.cancelled_at = now
        previous = locked.state
        locked.state = target
        locked.version += 1
        locked.save()
        record(
            events.MEETING_TRANSITION,
            actor=acting_user,
            obj=locked,
            source_ip=source_ip,
            details={"action": action, "from": previous, "to": target, "version": locked.version},
        )
        _state_event(locked)
        if action == "publish":
            _queue_consent_task(locked)
        from ecabinet.notify import hooks

        hooks.meeting_transition(locked, action, acting_user=acting_user)
    _refresh(meeting)
    return meeting


def schedule_meeting(meeting: Meeting, *, acting_user: User, **kw: Any) -> Meeting:
    return transition(meeting, "schedule", acting_user=acting_user, **kw)


def publish_dossier(meeting: Meeting, *, acting_user: User, **kw: Any) -> Meeting:
    return transition(meeting, "publish", acting_user=acting_user, **kw)


def open_session(meeting: Meeting, *, acting_user: User, **kw: Any) -> Meeting:
    return transition(meeting, "open", acting_user=acting_user, **kw)


def adjourn_session(meeting: Meeting, *, acting_user: User, **kw: Any) -> Meeting:
    return transition(meeting, "adjourn", acting_user=acting_user, **kw)


def resume_session(meeting: Meeting, *, acting_user: User, **kw: Any) -> Meeting:
    return transition(meeting, "resume", acting_user=acting_user, **kw)


def close_meeting(meeting: Meeting, *, acting_user: User, **kw: Any) -> Meeting:
    return transition(meeting, "close", acting_user=acting_user, **kw)


def cancel_meeting(meeting: Meeting, *, acting_user: User, **kw: Any) -> Meeting:
    return transition(meeting, "cancel", acting_user=acting_user, **kw)


# --- participants ----------------------------------------------------------------------------


def add_participant(meeting: Meeting, *, user: User, kind: str | None = None, acting_user: User, source_ip: str | None = None) -> Participant:
    with transaction.atomic():
        locked = _lock_meeting(meeting)
        if not permissions.can_manage_meeting(acting_user, locked):
            raise base_errors.NotFound()
        if locked.state in FINISHED:
            raise errors.WrongState(f"The meeting is {locked.state}.", state=locked.state)
        _validate_member_user(user, locked, field="user_id")
        kinds_by_role: dict[str, str] = {Role.GUEST: Participant.Kind.GUEST, Role.SECRETARY: Participant.Kind.SECRETARY}
        default_kind = kinds_by_role.get(user.role, Participant.Kind.MEMBER)
        kind = kind or default_kind
        if user.role == Role.GUEST and kind != Participant.Kind.GUEST:
            raise errors.InvalidMeetingData("A guest can only take part as a guest.", field="kind")
        if Participant.objects.filter(meeting=locked, user=user).exists():
            raise base_errors.Conflict("That person is already a participant.")
        part = Participant.objects.create(meeting=locked, user=user, kind=kind)
        _bump(locked)
        record(events.PARTICIPANT_ADDED, actor=acting_user, obj=locked, source_ip=source_ip, details={"user": user.pk, "kind": kind})
        broadcast.publish(locked.pk, "participants.changed", {"version": locked.version}, min_level=locked.classification)
    _refresh(meeting)
    return part


def remove_participant(meeting: Meeting, *, user: User, acting_user: User, source_ip: str | None = None) -> None:
    with transaction.atomic():
        locked = _lock_meeting(meeting)
        if not permissions.can_manage_meeting(acting_user, locked):
            raise base_errors.NotFound()
        if locked.state in FINISHED:
            raise errors.WrongState(f"The meeting is {locked.state}.", state=locked.state)
        if user.pk == locked.chair_id:
            raise errors.InvalidMeetingData("The chair cannot be removed; change the chair first.", field="user_id")
        deleted, _ = Participant.objects.filter(meeting=locked, user=user).delete()
        if not deleted:
            raise base_errors.NotFound()
        _bump(locked)
        record(events.PARTICIPANT_REMOVED, actor=acting_user, obj=locked, source_ip=source_ip, details={"user": user.pk})
        broadcast.publish(locked.pk, "participants.changed", {"version": locked.version}, min_level=locked.classification)
    _refresh(meeting)


# --- agenda items ----------------------------------------------------------------------------


def _validate_item_fields(meeting: Meeting, acting_user: User, fields: dict[str, Any]) -> None:
    if "classification" in fields and fields["classification"] > acting_user.clearance:
        raise errors.InvalidMeetingData("An item cannot be classified above your own clearance.", field="classification")
    org = fields.get("presenting_org")
    if org is not None and not _same_government(org, meeting):
        raise errors.InvalidMeetingData("The presenting ministry must be in this government.", field="presenting_org_id")
    presenter = fields.get("presenter")
    if presenter is not None and not _same_government(presenter.organisation, meeting):
        raise errors.InvalidMeetingData("The presenter must be in this government.", field="presenter_id")
    refs = fields.get("document_refs")
    if refs is not None and (not isinstance(refs, list) or not all(isinstance(r, str) and 0 < len(r) <= 300 for r in refs)):
        raise errors.InvalidMeetingData("Document references must be a list of short strings.", field="document_refs")


def propose_item(
    meeting: Meeting,
    *,
    acting_user: User,
    title: str,
    summary: str = "",
    presenting_org: Organisation | None = None,
    presenter: User | None = None,
    planned_minutes: int = 15,
    kind: str = AgendaItem.Kind.DECISION,
    classification: int | None = None,
    document_refs: Iterable[str] = (),
    source_ip: str | None = None,
) -> AgendaItem:
    """A secretary (of a ministry or the office) proposes an item; it waits for the office's review.

    The item's classification may differ from the meeting's: higher hides it from participants
    cleared only for the meeting; lower lets a guest invited to that item alone see it. It may not
    be above the proposer's own clearance.
    """
    fields: dict[str, Any] = {
        "title": title,
        "summary": summary,
        "presenting_org": presenting_org or acting_user.organisation,
        "presenter": presenter,
        "planned_minutes": planned_minutes,
        "kind": kind,
        "classification": meeting.classification if classification is None else classification,
        "document_refs": list(document_refs),
    }
    with transaction.atomic():
        locked = _lock_meeting(meeting)
        if not permissions.can_propose_item(acting_user, locked):
            if permissions.can_see_meeting(acting_user, locked):
                raise base_errors.Forbidden("Only secretaries can propose agenda items.")
            raise base_errors.NotFound()
        if locked.state not in PREPARING:
            raise errors.WrongState(f"The agenda of a meeting that is {locked.state} is closed to proposals.", state=locked.state)
        _validate_item_fields(locked, acting_user, fields)
        last = locked.items.aggregate(last=Max("order"))["last"] or 0
        item = AgendaItem.objects.create(meeting=locked, order=last + 1, proposed_by=acting_user, status=AgendaItem.Status.PROPOSED, **fields)
        record(
            events.ITEM_PROPOSED,
            actor=acting_user,
            obj=item,
            source_ip=source_ip,
            details={"meeting": locked.pk, "title": title, "classification": item.classification},
        )
    return item


def update_item(item: AgendaItem, *, acting_user: User, version: int | None, changes: dict[str, Any], source_ip: str | None = None) -> AgendaItem:
    unknown = set(changes) - set(ITEM_FIELDS)
    if unknown:
        raise errors.InvalidMeetingData(f"These fields cannot be changed here: {', '.join(sorted(unknown))}.")
    with transaction.atomic():
        meeting = _lock_meeting(item.meeting)
        locked = _lock_item(item)
        if not permissions.can_see_item(acting_user, locked):
            raise base_errors.NotFound()
        if not permissions.can_edit_item(acting_user, locked):
            raise errors.ItemWrongStatus(f"You cannot edit an item that is {locked.status}.", item_status=locked.status)
        if meeting.state in FINISHED:
            raise errors.WrongState(f"The meeting is {meeting.state}; it can no longer be edited.", state=meeting.state)
        if locked.status in (AgendaItem.Status.REJECTED, AgendaItem.Status.WITHDRAWN):
            raise errors.ItemWrongStatus(f"The item is {locked.status}.", item_status=locked.status)
        _check_version(locked, version)
        _validate_item_fields(meeting, acting_user, changes)
        before = {name: _jsonable(getattr(locked, name)) for name in changes}
        for name, value in changes.items():
            setattr(locked, name, value)
        locked.version += 1
        locked.save()
        if locked.status == AgendaItem.Status.ACCEPTED:
            _bump(meeting)
            broadcast.publish(meeting.pk, "item.updated", {"version": locked.version}, min_level=locked.classification, item_id=locked.pk)
        record(
            events.ITEM_UPDATED,
            actor=acting_user,
            obj=locked,
            source_ip=source_ip,
            details={"before": before, "after": {name: _jsonable(getattr(locked, name)) for name in changes}, "version": locked.version},
        )
    _refresh(item)
    return item


REVIEW_OUTCOMES = {"accept": AgendaItem.Status.ACCEPTED, "return": AgendaItem.Status.RETURNED, "reject": AgendaItem.Status.REJECTED}


def review_item(
    item: AgendaItem, *, acting_user: User, decision: str, comment: str = "", version: int | None = None, source_ip: str | None = None
) -> AgendaItem:
    """An office secretary accepts a proposal onto the agenda, returns it with comments, or rejects it."""
    if decision not in REVIEW_OUTCOMES:
        raise base_errors.InvalidInput("The decision must be accept, return or reject.")
    if decision == "return" and not comment.strip():
        raise errors.InvalidMeetingData("Say what to change when returning an item.", field="comment")
    with transaction.atomic():
        meeting = _lock_meeting(item.meeting)
        locked = _lock_item(item)
        if not permissions.can_see_item(acting_user, locked):
            raise base_errors.NotFound()
        if not permissions.can_review_item(acting_user, meeting):
            raise base_errors.Forbidden("Only a secretary of the government office reviews proposals.")
        if meeting.state not in PREPARING:
            raise errors.WrongState(f"The agenda of a meeting that is {meeting.state} is closed.", state=meeting.state)
        if locked.status != AgendaItem.Status.PROPOSED:
            raise errors.ItemWrongStatus(f"Only a proposed item can be reviewed; this one is {locked.status}.", item_status=locked.status)
        _check_version(locked, version, required=False)
        locked.status = REVIEW_OUTCOMES[decision]
        locked.reviewed_by = acting_user
        locked.review_comment = comment
        if decision == "accept":
            last = meeting.items.filter(status=AgendaItem.Status.ACCEPTED).aggregate(last=Max("order"))["last"] or 0
            locked.order = last + 1
        locked.version += 1
        locked.save()
        if decision == "accept":
            _bump(meeting)
            broadcast.publish(meeting.pk, "agenda.changed", {"version": meeting.version}, min_level=locked.classification, item_id=locked.pk)
        record(
            events.ITEM_REVIEWED,
            actor=acting_user,
            obj=locked,
            source_ip=source_ip,
            details={"decision": decision, "comment": comment, "status": locked.status},
        )
    _refresh(item)
    return item


def resubmit_item(item: AgendaItem, *, acting_user: User, version: int | None = None, source_ip: str | None = None) -> AgendaItem:
    """The proposer sends a returned item back for review."""
    with transaction.atomic():
        meeting = _lock_meeting(item.meeting)
        locked = _lock_item(item)
        if not permissions.can_see_item(acting_user, locked):
            raise base_errors.NotFound()
        if locked.proposed_by_id != acting_user.pk:
            raise base_errors.Forbidden("Only the proposer can re-submit an item.")
        if meeting.state not in PREPARING:
            raise errors.WrongState(f"The agenda of a meeting that is {meeting.state} is closed.", state=meeting.state)
        if locked.status != AgendaItem.Status.RETURNED:
            raise errors.ItemWrongStatus(f"Only a returned item can be re-submitted; this one is {locked.status}.", item_status=locked.status)
        _check_version(locked, version, required=False)
        locked.status = AgendaItem.Status.PROPOSED
        locked.proposed_at = timezone.now()
        locked.version += 1
        locked.save()
        record(events.ITEM_RESUBMITTED, actor=acting_user, obj=locked, source_ip=source_ip, details={"version": locked.version})
    _refresh(item)
    return item


def withdraw_item(item: AgendaItem, *, acting_user: User, source_ip: str | None = None) -> AgendaItem:
    """The proposer takes an item back, before the session opens."""
    with transaction.atomic():
        meeting = _lock_meeting(item.meeting)
        locked = _lock_item(item)
        if not permissions.can_see_item(acting_user, locked):
            raise base_errors.NotFound()
        if not permissions.can_withdraw_item(acting_user, locked):
            raise base_errors.Forbidden("Only the proposer can withdraw an item.")
        if meeting.state not in PREPARING:
            raise errors.WrongState(f"Items cannot be withdrawn from a meeting that is {meeting.state}.", state=meeting.state)
        if locked.status in (AgendaItem.Status.REJECTED, AgendaItem.Status.WITHDRAWN):
            raise errors.ItemWrongStatus(f"The item is already {locked.status}.", item_status=locked.status)
        was_accepted = locked.status == AgendaItem.Status.ACCEPTED
        previous = locked.status
        locked.status = AgendaItem.Status.WITHDRAWN
        locked.in_consent_block = False
        locked.version += 1
        locked.save()
        if was_accepted:
            _bump(meeting)
            broadcast.publish(meeting.pk, "agenda.changed", {"version": meeting.version}, min_level=locked.classification, item_id=locked.pk)
        record(events.ITEM_WITHDRAWN, actor=acting_user, obj=locked, source_ip=source_ip, details={"from": previous})
    _refresh(item)
    return item


def reorder_agenda(meeting: Meeting, *, acting_user: User, item_ids: list[int], version: int | None, source_ip: str | None = None) -> Meeting:
    """Put the agenda (the accepted items) in the order given; every accepted item exactly once."""
    with transaction.atomic():
        locked = _lock_meeting(meeting)
        if not permissions.can_manage_meeting(acting_user, locked):
            if permissions.can_see_meeting(acting_user, locked):
                raise base_errors.Forbidden("Only the chair or a secretary of the government office can reorder the agenda.")
            raise base_errors.NotFound()
        if locked.state in FINISHED:
            raise errors.WrongState(f"The meeting is {locked.state}; it can no longer be edited.", state=locked.state)
        _check_version(locked, version)
        agenda = list(AgendaItem.objects.select_for_update().filter(meeting=locked, status=AgendaItem.Status.ACCEPTED))
        current = {item.pk: item for item in agenda}
        if len(item_ids) != len(set(item_ids)) or set(item_ids) != set(current):
            raise errors.InvalidAgendaOrder(
                "The list must name each accepted item of this meeting exactly once.",
                missing=sorted(set(current) - set(item_ids)),
                unknown=sorted(set(item_ids) - set(current)),
            )
        before = [item.pk for item in sorted(agenda, key=lambda i: (i.order, i.pk))]
        for position, item_id in enumerate(item_ids, start=1):
            item = current[item_id]
            if item.order != position:
                item.order = position
                item.version += 1
                item.save(update_fields=["order", "version"])
        # Proposals waiting for review follow the agenda, in their own order.
        others = AgendaItem.objects.filter(meeting=locked).exclude(status=AgendaItem.Status.ACCEPTED).order_by("order", "pk")
        for offset, item in enumerate(others, start=len(item_ids) + 1):
            if item.order != offset:
                AgendaItem.objects.filter(pk=item.pk).update(order=offset)
        locked.version += 1
        locked.save(update_fields=["version"])
        record(
            events.AGENDA_REORDERED,
            actor=acting_user,
            obj=locked,
            source_ip=source_ip,
            details={"before": before, "after": item_ids, "version": locked.version},
        )
        broadcast.publish(locked.pk, "agenda.changed", {"version": locked.version}, min_level=locked.classification)
    _refresh(meeting)
    return meeting


def add_item_guest(item: AgendaItem, *, user: User, acting_user: User, source_ip: str | None = None) -> ItemGuest:
    """Invite a guest to one item only: they see that item, and may ask to speak on it."""
    with transaction.atomic():
        meeting = _lock_meeting(item.meeting)
        locked = _lock_item(item)
        if not permissions.can_see_item(acting_user, locked):
            raise base_errors.NotFound()
        if not permissions.can_manage_meeting(acting_user, meeting):
            raise base_errors.Forbidden("Only the chair or a secretary of the government office can invite guests.")
        if meeting.state in FINISHED:
            raise errors.WrongState(f"The meeting is {meeting.state}.", state=meeting.state)
        if user.role != Role.GUEST or not _same_government(user.organisation, meeting) or user.clearance < locked.classification:
            raise errors.InvalidMeetingData("Invite a guest of this government whose clearance covers the item.", field="user_id")
        guest, created = ItemGuest.objects.get_or_create(item=locked, user=user)
        if not created:
            raise base_errors.Conflict("That guest is already invited to this item.")
        record(events.ITEM_GUEST_ADDED, actor=acting_user, obj=locked, source_ip=source_ip, details={"user": user.pk})
    return guest


def remove_item_guest(item: AgendaItem, *, user: User, acting_user: User, source_ip: str | None = None) -> None:
    with transaction.atomic():
        meeting = _lock_meeting(item.meeting)
        if not permissions.can_see_item(acting_user, item):
            raise base_errors.NotFound()
        if not permissions.can_manage_meeting(acting_user, meeting):
            raise base_errors.Forbidden("Only the chair or a secretary of the government office can change guests.")
        if meeting.state in FINISHED:
            raise errors.WrongState(f"The meeting is {meeting.state}.", state=meeting.state)
        deleted, _ = ItemGuest.objects.filter(item=item, user=user).delete()
        if not deleted:
            raise base_errors.NotFound()
        record(events.ITEM_GUEST_REMOVED, actor=acting_user, obj=item, source_ip=source_ip, details={"user": user.pk})


# --- positions -------------------------------------------------------------------------------

BLOCKING_STANCES = (Position.Stance.OBJECT, Position.Stance.WISH_TO_SPEAK)
POSITION_STATES = (Meeting.State.SCHEDULED, Meeting.State.DOSSIER_PUBLISHED)


def record_position(item: AgendaItem, *, acting_user: User, stance: str, comment: str = "", source_ip: str | None = None) -> Position:
    """A member's position on a decision item, changeable until the deadline.

    An objection or a wish to speak takes the item out of a proposed (not yet confirmed) consent
    block: it has to be discussed.
    """
    if stance not in Position.Stance.values:
        raise base_errors.InvalidInput("Unknown stance.")
    with transaction.atomic():
        meeting = _lock_meeting(item.meeting)
        locked = _lock_item(item)
        if not permissions.can_see_item(acting_user, locked):
            raise base_errors.NotFound()
        if not permissions.can_record_position(acting_user, locked):
            raise errors.NotParticipant("Only the chair and the members of the meeting record positions.")
        if locked.status != AgendaItem.Status.ACCEPTED or locked.kind != AgendaItem.Kind.DECISION:
            raise errors.ItemWrongStatus("Positions are recorded on accepted decision items only.", item_status=locked.status)
        if meeting.state not in POSITION_STATES:
            raise errors.WrongState(f"Positions cannot be recorded on a meeting that is {meeting.state}.", state=meeting.state)
        now = timezone.now()
        if meeting.positions_deadline is not None and now >= meeting.positions_deadline:
            raise errors.DeadlinePassed(f"Positions were due by {meeting.positions_deadline.isoformat()}.")
        existing = Position.objects.select_for_update().filter(item=locked, user=acting_user).first()
        previous = existing.stance if existing else None
        if existing is None:
            position = Position.objects.create(item=locked, user=acting_user, stance=stance, comment=comment, updated_at=now)
        else:
            existing.stance, existing.comment, existing.updated_at = stance, comment, now
            existing.save()
            position = existing
        left_block = False
        if stance in BLOCKING_STANCES and locked.in_consent_block and meeting.consent_confirmed_at is None:
            locked.in_consent_block = False
            locked.save(update_fields=["in_consent_block"])
            left_block = True
        record(
            events.POSITION_RECORDED,
            actor=acting_user,
            obj=locked,
            source_ip=source_ip,
            details={"stance": stance, "previous": previous, "comment": comment, "left_consent_block": left_block},
        )
        answered = Position.objects.filter(item=locked).count()
        broadcast.publish(meeting.pk, "positions.changed", {"answered": answered}, min_level=locked.classification, item_id=locked.pk)
    return position


# --- consent agenda --------------------------------------------------------------------------


def consent_candidates(meeting: Meeting) -> list[AgendaItem]:
    """Accepted, undecided decision items on which nobody objected or asked to speak.

    Silence counts as consent (the Estonian rule): an item needs no minimum number of answers, only
    the absence of an objection or a request to speak.
    """
    items = meeting.items.filter(status=AgendaItem.Status.ACCEPTED, kind=AgendaItem.Kind.DECISION, outcome=AgendaItem.Outcome.PENDING)
    blocked = set(Position.objects.filter(item__meeting=meeting, stance__in=BLOCKING_STANCES).values_list("item_id", flat=True))
    return [item for item in items.order_by("order", "pk") if item.pk not in blocked and not _has_decision(item)]


def _has_decision(item: AgendaItem) -> bool:
    return Decision.objects.filter(item=item).exists()


def propose_consent_block(meeting: Meeting, *, acting_user: User | None, only_once: bool = False, source_ip: str | None = None) -> list[AgendaItem]:
    """Propose to the chair the items to adopt without debate.

    Run by the deadline task (``acting_user=None``, ``only_once=True``: a second run changes
    nothing) or by an office secretary, who may re-propose until the chair confirms.
    """
    with transaction.atomic():
        locked = _lock_meeting(meeting)
        if acting_user is not None and not permissions.can_review_item(acting_user, locked):
            if permissions.can_see_meeting(acting_user, locked):
                raise base_errors.Forbidden("Only a secretary of the government office proposes the consent block.")
            raise base_errors.NotFound()
        if only_once and locked.consent_proposed_at is not None:
            return list(locked.items.filter(in_consent_block=True))
        if locked.state != Meeting.State.DOSSIER_PUBLISHED or locked.consent_confirmed_at is not None:
            raise errors.ConsentNotPossible(
                f"The consent block is proposed after the dossier is published and before the session; the meeting is {locked.state}."
            )
        chosen = consent_candidates(locked)
        chosen_ids = [item.pk for item in chosen]
        locked.items.exclude(pk__in=chosen_ids).filter(in_consent_block=True).update(in_consent_block=False)
        locked.items.filter(pk__in=chosen_ids).update(in_consent_block=True)
        locked.consent_proposed_at = timezone.now()
        locked.version += 1
        locked.save(update_fields=["consent_proposed_at", "version"])
        record(events.CONSENT_PROPOSED, actor=acting_user, obj=locked, source_ip=source_ip, details={"items": chosen_ids, "by_deadline": acting_user is None})
        broadcast.publish(locked.pk, "consent.proposed", {"items": chosen_ids, "version": locked.version}, min_level=locked.classification)
    _refresh(meeting)
    return list(AgendaItem.objects.filter(pk__in=chosen_ids).order_by("order", "pk"))


def remove_from_consent_block(item: AgendaItem, *, acting_user: User, source_ip: str | None = None) -> AgendaItem:
    """The chair (or a secretary for the chair) takes an item out of the block: it will be discussed."""
    with transaction.atomic():
        meeting = _lock_meeting(item.meeting)
        locked = _lock_item(item)
        if not permissions.can_see_item(acting_user, locked):
            raise base_errors.NotFound()
        if not permissions.can_run_session(acting_user, meeting):
            raise base_errors.Forbidden("Only the chair or a secretary of the government office can change the consent block.")
        if meeting.consent_confirmed_at is not None or meeting.state in FINISHED:
            raise errors.ConsentNotPossible("The consent block was already confirmed.")
        if not locked.in_consent_block:
            raise errors.ItemWrongStatus("The item is not in the consent block.", item_status=locked.status)
        locked.in_consent_block = False
        locked.version += 1
        locked.save(update_fields=["in_consent_block", "version"])
        _bump(meeting)
        record(events.CONSENT_ITEM_REMOVED, actor=acting_user, obj=locked, source_ip=source_ip, details={"meeting": meeting.pk})
        broadcast.publish(meeting.pk, "consent.changed", {"removed": locked.pk, "version": meeting.version}, min_level=meeting.classification)
    _refresh(item)
    return item


def confirm_consent_block(meeting: Meeting, *, acting_user: User, source_ip: str | None = None) -> list[Decision]:
    """At the opening of the session, before the first item starts, adopt the block in one go."""
    with transaction.atomic():
        locked = _lock_meeting(meeting)
        if not permissions.can_run_session(acting_user, locked):
            if permissions.can_see_meeting(acting_user, locked):
                raise base_errors.Forbidden("Only the chair or a secretary of the government office confirms the consent block.")
            raise base_errors.NotFound()
        if locked.state != Meeting.State.IN_SESSION:
            raise errors.WrongState(f"The consent block is confirmed in session; the meeting is {locked.state}.", state=locked.state)
        if locked.consent_proposed_at is None or locked.consent_confirmed_at is not None:
            raise errors.ConsentNotPossible("There is no proposed consent block waiting for confirmation.")
        if locked.items.filter(started_at__isnull=False).exists():
            raise errors.ConsentNotPossible("The consent block is confirmed before the first item starts.")
        block = list(
            AgendaItem.objects.select_for_update()
            .filter(meeting=locked, in_consent_block=True, status=AgendaItem.Status.ACCEPTED, outcome=AgendaItem.Outcome.PENDING)
            .order_by("order", "pk")
        )
        now = timezone.now()
        decisions = []
        for item in block:
            item.outcome = AgendaItem.Outcome.ADOPTED_BY_CONSENT
            item.version += 1
            item.save(update_fields=["outcome", "version"])
            decisions.append(Decision.objects.create(item=item, text=CONSENT_DECISION_TEXT, by_consent=True, decided_at=now, recorded_by=acting_user))
        locked.consent_confirmed_at = now
        locked.version += 1
        locked.save(update_fields=["consent_confirmed_at", "version"])
        record(events.CONSENT_CONFIRMED, actor=acting_user, obj=locked, source_ip=source_ip, details={"items": [item.pk for item in block]})
        broadcast.publish(locked.pk, "consent.confirmed", {"items": [item.pk for item in block], "version": locked.version}, min_level=locked.classification)
    _refresh(meeting)
    return decisions


# --- calendar feeds --------------------------------------------------------------------------


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create_calendar_feed(*, acting_user: User, source_ip: str | None = None) -> tuple[CalendarFeed, str]:
    """A new secret feed URL token; only its hash is kept, so it is shown once."""
    if not permissions.can_manage_calendar(acting_user):
        raise base_errors.NotAuthenticated()
    raw = "cal_" + secrets.token_urlsafe(32)
    with transaction.atomic():
        feed = CalendarFeed.objects.create(user=acting_user, token_hash=token_hash(raw))
        record(events.CALENDAR_FEED_CREATED, actor=acting_user, obj=feed, source_ip=source_ip)
    return feed, raw


def revoke_calendar_feed(feed: CalendarFeed, *, acting_user: User, source_ip: str | None = None) -> CalendarFeed:
    with transaction.atomic():
        locked = CalendarFeed.objects.select_for_update().get(pk=feed.pk)
        if locked.user_id != acting_user.pk:
            raise base_errors.NotFound()
        if locked.revoked_at is not None:
            raise base_errors.Conflict("The feed is already revoked.")
        locked.revoked_at = timezone.now()
        locked.save(update_fields=["revoked_at"])
        record(events.CALENDAR_FEED_REVOKED, actor=acting_user, obj=locked, source_ip=source_ip)
    _refresh(feed)
    return feed


def feed_user(raw: str) -> User | None:
    """The active user behind a feed token, or None when unknown or revoked."""
    feed = CalendarFeed.objects.select_related("user__organisation").filter(token_hash=token_hash(raw), revoked_at__isnull=True).first()
    if feed is None or not feed.user.is_active:
        return None
    return feed.user
