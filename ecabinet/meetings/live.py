"""The live session: items started and ended with their timers, attendance and quorum, speakers.

Every function here that changes state is an action: atomic, keyword-only ``acting_user``, one
audit entry, and a live event to the meeting's group after commit. Each event carries the whole
current state of the piece it is about (the item, the attendance list with the quorum, an item's
speakers' list), so a client applies it by replacing that piece, and a client that missed events
simply takes a fresh snapshot (``snapshot``), never a replay.

Starting an item while another runs ends the running one first, in the same transaction (the
chair's "next item"); the start's audit entry names the item it ended. An item that has run
cannot be started again, so its planned-vs-actual record stays true.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from ecabinet import errors as base_errors
from ecabinet.audit.actions import record
from ecabinet.identity.models import User
from ecabinet.identity.permissions import same_government
from ecabinet.meetings import broadcast, events, permissions
from ecabinet.meetings.core import quorum as quorum_core
from ecabinet.meetings.errors import (
    AlreadyCheckedIn,
    AlreadyRequested,
    FloorNotAllowed,
    FloorNotRequested,
    FloorTaken,
    InvalidMeetingData,
    ItemWrongStatus,
    NotCheckedIn,
    NotParticipant,
    SubstitutesNotAllowed,
    WrongState,
)
from ecabinet.meetings.models import AgendaItem, Attendance, Meeting, MeetingRules, Participant, SpeakerRequest

# Kinds of live events (the ``kind`` field of each message on ws/meetings/<id>/).
ITEM_STARTED = "item.started"
ITEM_ENDED = "item.ended"
ATTENDANCE = "attendance"
SPEAKERS = "speakers"
# Sent by the agenda actions when items appear, change or move: consumers recompute what each
# user may see when they receive it.
AGENDA = "agenda"
MEETING_STATE = "meeting.state"

CHECK_IN_STATES = (Meeting.State.SCHEDULED, Meeting.State.DOSSIER_PUBLISHED, Meeting.State.IN_SESSION, Meeting.State.ADJOURNED)
FLOOR_REQUEST_STATES = (Meeting.State.IN_SESSION, Meeting.State.ADJOURNED)
OPEN_SPEAKER_STATES = (SpeakerRequest.State.WAITING, SpeakerRequest.State.SPEAKING)


# --- access ---------------------------------------------------------------------------------


def _require_meeting(user: Any, meeting: Meeting) -> None:
    if not permissions.can_see_meeting(user, meeting):
        raise base_errors.NotFound()


def _require_item(user: Any, item: AgendaItem) -> None:
    if not permissions.can_see_item(user, item):
        raise base_errors.NotFound()


def _require_runner(user: Any, meeting: Meeting) -> None:
    _require_meeting(user, meeting)
    if not permissions.can_run_session(user, meeting):
        raise base_errors.Forbidden("Only the chair, or a secretary of the government office on the chair's behalf, runs the session.")


def _lock_meeting(meeting_id: int) -> Meeting:
    # Serialises live actions on one meeting (PostgreSQL row lock; SQLite transactions are IMMEDIATE).
    return Meeting.objects.select_for_update().select_related("organisation").get(pk=meeting_id)


def _reread_item(item: AgendaItem) -> tuple[Meeting, AgendaItem]:
    meeting = _lock_meeting(item.meeting_id)
    fresh = AgendaItem.objects.get(pk=item.pk)
    fresh.meeting = meeting
    return meeting, fresh


def _require_state(meeting: Meeting, allowed: tuple[str, ...], doing: str) -> None:
    if meeting.state not in allowed:
        raise WrongState(f"Cannot {doing} while the meeting is {meeting.state}.", state=meeting.state)


def rules_for(meeting: Meeting, *, create: bool = False) -> MeetingRules:
    """The organisation's meeting rules; defaults (saved when ``create``) if it has none yet."""
    if create:
        return MeetingRules.objects.get_or_create(organisation=meeting.organisation)[0]
    found = MeetingRules.objects.filter(organisation_id=meeting.organisation_id).first()
    return found or MeetingRules(organisation=meeting.organisation)


# --- reading the live state ------------------------------------------------------------------


def running_item(meeting: Meeting) -> AgendaItem | None:
    return meeting.items.filter(started_at__isnull=False, ended_at__isnull=True).order_by("started_at").first()


def item_out(item: AgendaItem) -> dict[str, Any]:
    actual = item.actual_seconds
    return {
        "id": item.pk,
        "order": item.order,
        "title": item.title,
        "kind": item.kind,
        "classification": item.classification,
        "outcome": item.outcome,
        "planned_minutes": item.planned_minutes,
        "started_at": item.started_at.isoformat() if item.started_at else None,
        "ended_at": item.ended_at.isoformat() if item.ended_at else None,
        "running": item.started_at is not None and item.ended_at is None,
        "actual_seconds": actual,
        "overrun": actual is not None and actual > item.planned_minutes * 60,
    }


def _person(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.pk, "name": user.display_name, "title": user.title}


def _speaker(req: SpeakerRequest, n: int) -> dict[str, Any]:
    return {
        "id": req.pk,
        "n": n,
        "user": _person(req.user),
        "state": req.state,
        "requested_at": req.requested_at.isoformat(),
        "granted_at": req.granted_at.isoformat() if req.granted_at else None,
        "ended_at": req.ended_at.isoformat() if req.ended_at else None,
        "time_limit_seconds": req.time_limit_seconds,
    }


def speakers_out(item: AgendaItem) -> list[dict[str, Any]]:
    rows = SpeakerRequest.objects.filter(item=item).select_related("user").order_by("requested_at", "pk")
    return [_speaker(req, n) for n, req in enumerate(rows, start=1)]


def voting_member_ids(meeting: Meeting) -> set[int]:
    ids = set(Participant.objects.filter(meeting=meeting, kind=Participant.Kind.MEMBER).values_list("user_id", flat=True))
    ids.add(meeting.chair_id)
    return ids


def quorum_rules(rules: MeetingRules) -> quorum_core.QuorumRules:
    return quorum_core.QuorumRules(
        numerator=rules.quorum_numerator,
        denominator=rules.quorum_denominator,
        strictly_more=rules.quorum_strictly_more,
        remote_counts=rules.remote_counts_for_quorum,
        substitutes_count=rules.substitutes_count_for_quorum,
    )


def attendance_out(meeting: Meeting) -> dict[str, Any]:
    """Who is here now, and the quorum by the organisation's rules."""
    rules = rules_for(meeting)
    present = list(Attendance.objects.filter(meeting=meeting, left_at__isnull=True).select_related("user", "substitute_for").order_by("checked_in_at", "pk"))
    voters = voting_member_ids(meeting)
    presences = [quorum_core.Presence(member=a.substitute_for_id if a.mode == Attendance.Mode.SUBSTITUTE else a.user_id, mode=a.mode) for a in present]
    result = quorum_core.compute(voters, presences, quorum_rules(rules))
    return {
        "present": [
            {
                "id": a.pk,
                "user": _person(a.user),
                "mode": a.mode,
                "substitute_for": _person(a.substitute_for),
                "voting": (a.substitute_for_id if a.mode == Attendance.Mode.SUBSTITUTE else a.user_id) in voters,
                "checked_in_at": a.checked_in_at.isoformat(),
            }
            for a in present
        ],
        "quorum": {
            "voting_members": result.voting,
            "present": result.present,
            "required": result.required,
            "reached": result.reached,
            "rule": {
                "numerator": rules.quorum_numerator,
                "denominator": rules.quorum_denominator,
                "strictly_more": rules.quorum_strictly_more,
                "remote_counts": rules.remote_counts_for_quorum,
                "substitutes_count": rules.substitutes_count_for_quorum,
            },
        },
    }


def meeting_out(meeting: Meeting) -> dict[str, Any]:
    return {
        "id": meeting.pk,
        "title": meeting.title,
        "state": meeting.state,
        "classification": meeting.classification,
        "opened_at": meeting.opened_at.isoformat() if meeting.opened_at else None,
        "adjourned_at": meeting.adjourned_at.isoformat() if meeting.adjourned_at else None,
        "closed_at": meeting.closed_at.isoformat() if meeting.closed_at else None,
        "allow_substitutes": meeting.allow_substitutes,
    }


def sees_meeting_level(user: User, meeting: Meeting) -> bool:
    """Attendance and quorum are meeting-level facts: a guest invited to one lower-classified item
    sees that item, not who attends the (more highly classified) meeting."""
    return user.clearance >= meeting.classification


def speakers_by_item(items: list[AgendaItem]) -> dict[str, list[dict[str, Any]]]:
    lists: dict[str, list[dict[str, Any]]] = {str(item.pk): [] for item in items}
    rows = SpeakerRequest.objects.filter(item__in=items).select_related("user").order_by("requested_at", "pk")
    for req in rows:
        bucket = lists[str(req.item_id)]
        bucket.append(_speaker(req, len(bucket) + 1))
    return lists


def snapshot(meeting: Meeting, user: User) -> dict[str, Any]:
    """The whole current state of the session as ``user`` may see it (the caller checked access)."""
    items = permissions.visible_items_at_once(user, meeting)
    running = next((item for item in items if item.started_at is not None and item.ended_at is None), None)
    rules = rules_for(meeting)
    own = Attendance.objects.filter(meeting=meeting, user=user, left_at__isnull=True).first()
    return {
        "type": "snapshot",
        "now": timezone.now().isoformat(),
        "meeting": meeting_out(meeting),
        "items": [item_out(item) for item in items],
        "running_item": item_out(running) if running else None,
        "attendance": attendance_out(meeting) if sees_meeting_level(user, meeting) else None,
        "speakers": speakers_by_item(items),
        "speaking_seconds": rules.default_speaking_seconds,
        "you": {
            "id": user.pk,
            "name": user.display_name,
            "can_run_session": permissions.can_run_session(user, meeting),
            "can_attend": permissions.can_attend(user, meeting),
            "checked_in": own.mode if own else None,
            "may_request_floor": [item.pk for item in items] if items and permissions.may_request_floor_on_visible(user, meeting) else [],
        },
    }


# --- publishing ------------------------------------------------------------------------------


def _publish_item(kind: str, item: AgendaItem) -> None:
    broadcast.publish(item.meeting_id, kind, {"item": item_out(item)}, min_level=item.classification, item_id=item.pk)


def _publish_speakers(item: AgendaItem) -> None:
    broadcast.publish(item.meeting_id, SPEAKERS, {"item": item.pk, "speakers": speakers_out(item)}, min_level=item.classification, item_id=item.pk)


def _publish_attendance(meeting: Meeting) -> None:
    broadcast.publish(meeting.pk, ATTENDANCE, attendance_out(meeting), min_level=meeting.classification)


# --- items and their timers ------------------------------------------------------------------


def _close_speaker(item: AgendaItem, now: Any) -> int | None:
    speaking = SpeakerRequest.objects.filter(item=item, state=SpeakerRequest.State.SPEAKING).first()
    if speaking is None:
        return None
    speaking.state, speaking.ended_at = SpeakerRequest.State.DONE, now
    speaking.save(update_fields=["state", "ended_at"])
    return speaking.pk


def start_item(item: AgendaItem, *, acting_user: User, source_ip: str | None = None) -> AgendaItem:
    """Start an item's timer; a running item is ended first (one item at a time)."""
    with transaction.atomic():
        meeting, item = _reread_item(item)
        _require_item(acting_user, item)
        _require_runner(acting_user, meeting)
        _require_state(meeting, (Meeting.State.IN_SESSION,), "start an item")
        if item.status != AgendaItem.Status.ACCEPTED or item.outcome == AgendaItem.Outcome.ADOPTED_BY_CONSENT:
            raise ItemWrongStatus("Only an accepted item that was not adopted by consent can be taken up.")
        if item.started_at is not None:
            raise ItemWrongStatus("This item has already been taken up." if item.ended_at else "This item is already running.")
        now = timezone.now()
        previous = running_item(meeting)
        ended_speaker = None
        if previous is not None:
            ended_speaker = _close_speaker(previous, now)
            previous.ended_at = now
            AgendaItem.objects.filter(pk=previous.pk).update(ended_at=now)
        item.started_at = now
        AgendaItem.objects.filter(pk=item.pk).update(started_at=now)
        record(
            events.ITEM_STARTED,
            actor=acting_user,
            obj=item,
            source_ip=source_ip,
            details={
                "meeting": meeting.pk,
                "planned_minutes": item.planned_minutes,
                "ended_item": previous.pk if previous else None,
                "ended_speaker": ended_speaker,
            },
        )
        # The new item first: it is what every tablet is waiting for. Each event carries the whole
        # item, so the order in which a client applies the two does not matter.
        _publish_item(ITEM_STARTED, item)
        if previous is not None:
            _publish_item(ITEM_ENDED, previous)
            if ended_speaker is not None:
                _publish_speakers(previous)
    return item


def end_item(item: AgendaItem, *, acting_user: User, source_ip: str | None = None) -> AgendaItem:
    """Stop the running item's timer (and the floor, if someone still has it)."""
    with transaction.atomic():
        meeting, item = _reread_item(item)
        _require_item(acting_user, item)
        _require_runner(acting_user, meeting)
        _require_state(meeting, (Meeting.State.IN_SESSION, Meeting.State.ADJOURNED), "end an item")
        if item.started_at is None or item.ended_at is not None:
            raise ItemWrongStatus("This item is not running.")
        now = timezone.now()
        ended_speaker = _close_speaker(item, now)
        item.ended_at = now
        AgendaItem.objects.filter(pk=item.pk).update(ended_at=now)
        record(
            events.ITEM_ENDED,
            actor=acting_user,
            obj=item,
            source_ip=source_ip,
            details={"meeting": meeting.pk, "planned_minutes": item.planned_minutes, "actual_seconds": item.actual_seconds, "ended_speaker": ended_speaker},
        )
        if ended_speaker is not None:
            _publish_speakers(item)
        _publish_item(ITEM_ENDED, item)
    return item


# --- attendance and quorum -------------------------------------------------------------------


def _target_user(acting_user: User, user_id: int | None) -> User:
    if user_id is None or user_id == acting_user.pk:
        return acting_user
    target = User.objects.select_related("organisation").filter(pk=user_id, is_active=True).first()
    if target is None or not same_government(acting_user, target):
        raise base_errors.NotFound("No such person.")
    return target


def _is_attendee(user: User, meeting: Meeting) -> bool:
    return meeting.chair_id == user.pk or Participant.objects.filter(meeting=meeting, user=user).exists()


def check_in(
    meeting: Meeting,
    *,
    acting_user: User,
    user_id: int | None = None,
    mode: str = Attendance.Mode.IN_ROOM,
    substitute_for_id: int | None = None,
    source_ip: str | None = None,
) -> Attendance:
    """A participant checks in from their tablet, or the chair/office secretary marks someone.

    ``mode`` is in the room, remote, or a substitute sitting for an absent voting member (only
    when the meeting allows substitutes, and only marked by whoever runs the session).
    """
    if mode not in Attendance.Mode.values:
        raise InvalidMeetingData(f"Unknown attendance mode {mode!r}.")
    with transaction.atomic():
        meeting = _lock_meeting(meeting.pk)
        _require_meeting(acting_user, meeting)
        target = _target_user(acting_user, user_id)
        self_check_in = target.pk == acting_user.pk
        if self_check_in and mode != Attendance.Mode.SUBSTITUTE:
            if not permissions.can_attend(acting_user, meeting):
                raise NotParticipant("You are not invited to this meeting.")
        elif not permissions.can_run_session(acting_user, meeting):
            raise base_errors.Forbidden("Only the chair or a secretary of the government office marks attendance for others.")
        _require_state(meeting, CHECK_IN_STATES, "check in")
        substitute_for = None
        if mode == Attendance.Mode.SUBSTITUTE:
            if not meeting.allow_substitutes:
                raise SubstitutesNotAllowed()
            voters = voting_member_ids(meeting)
            if substitute_for_id is None or substitute_for_id not in voters or substitute_for_id == target.pk:
                raise InvalidMeetingData("A substitute sits for one of the meeting's voting members: name them in substitute_for.")
            substitute_for = User.objects.get(pk=substitute_for_id)
            represented = Attendance.objects.filter(meeting=meeting, left_at__isnull=True).filter(
                Q(user_id=substitute_for_id) | Q(mode=Attendance.Mode.SUBSTITUTE, substitute_for_id=substitute_for_id)
            )
            if represented.exists():
                raise AlreadyCheckedIn(f"{substitute_for.display_name} is already present or represented.")
        else:
            if substitute_for_id is not None:
                raise InvalidMeetingData("substitute_for applies only to the substitute mode.")
            if not _is_attendee(target, meeting):
                raise NotParticipant(f"{target.display_name} is not invited to this meeting.")
        if Attendance.objects.filter(meeting=meeting, user=target, left_at__isnull=True).exists():
            raise AlreadyCheckedIn()
        try:
            with transaction.atomic():
                attendance = Attendance.objects.create(meeting=meeting, user=target, mode=mode, substitute_for=substitute_for, checked_in_by=acting_user)
        except IntegrityError:
            raise AlreadyCheckedIn()
        rules_for(meeting, create=True)
        record(
            events.CHECKED_IN,
            actor=acting_user,
            obj=attendance,
            source_ip=source_ip,
            details={"meeting": meeting.pk, "user": target.pk, "mode": mode, "substitute_for": substitute_for_id, "by_self": self_check_in},
        )
        _publish_attendance(meeting)
    return attendance


def check_out(meeting: Meeting, *, acting_user: User, user_id: int | None = None, source_ip: str | None = None) -> Attendance:
    with transaction.atomic():
        meeting = _lock_meeting(meeting.pk)
        _require_meeting(acting_user, meeting)
        target = _target_user(acting_user, user_id)
        if target.pk != acting_user.pk and not permissions.can_run_session(acting_user, meeting):
            raise base_errors.Forbidden("Only the chair or a secretary of the government office checks others out.")
        attendance = Attendance.objects.filter(meeting=meeting, user=target, left_at__isnull=True).first()
        if attendance is None:
            raise NotCheckedIn()
        attendance.left_at = timezone.now()
        attendance.save(update_fields=["left_at"])
        record(events.CHECKED_OUT, actor=acting_user, obj=attendance, source_ip=source_ip, details={"meeting": meeting.pk, "user": target.pk})
        _publish_attendance(meeting)
    return attendance


# --- the speakers' list ----------------------------------------------------------------------


def request_floor(item: AgendaItem, *, acting_user: User, source_ip: str | None = None) -> SpeakerRequest:
    """Put oneself on an item's speakers' list (members, the chair, invited guests)."""
    with transaction.atomic():
        meeting, item = _reread_item(item)
        _require_item(acting_user, item)
        if not permissions.can_request_floor(acting_user, item):
            raise FloorNotAllowed()
        _require_state(meeting, FLOOR_REQUEST_STATES, "ask for the floor")
        if item.status != AgendaItem.Status.ACCEPTED or item.ended_at is not None or item.outcome == AgendaItem.Outcome.ADOPTED_BY_CONSENT:
            raise ItemWrongStatus("The discussion of this item is over.")
        if SpeakerRequest.objects.filter(item=item, user=acting_user, state__in=OPEN_SPEAKER_STATES).exists():
            raise AlreadyRequested()
        limit = rules_for(meeting, create=True).default_speaking_seconds
        try:
            with transaction.atomic():
                req = SpeakerRequest.objects.create(item=item, user=acting_user, time_limit_seconds=limit)
        except IntegrityError:
            raise AlreadyRequested()
        record(events.FLOOR_REQUESTED, actor=acting_user, obj=req, source_ip=source_ip, details={"meeting": meeting.pk, "item": item.pk})
        _publish_speakers(item)
    return req


def withdraw_floor(item: AgendaItem, *, acting_user: User, source_ip: str | None = None) -> SpeakerRequest:
    """Leave the list; a speaker who withdraws yields the floor (recorded as done)."""
    with transaction.atomic():
        meeting, item = _reread_item(item)
        _require_item(acting_user, item)
        req = SpeakerRequest.objects.filter(item=item, user=acting_user, state__in=OPEN_SPEAKER_STATES).first()
        if req is None:
            raise FloorNotRequested("You are not on this item's speakers' list.")
        was_speaking = req.state == SpeakerRequest.State.SPEAKING
        if was_speaking:
            req.state, req.ended_at = SpeakerRequest.State.DONE, timezone.now()
        else:
            req.state = SpeakerRequest.State.WITHDRAWN
        req.save(update_fields=["state", "ended_at"])
        record(
            events.FLOOR_WITHDRAWN,
            actor=acting_user,
            obj=req,
            source_ip=source_ip,
            details={"meeting": meeting.pk, "item": item.pk, "was_speaking": was_speaking},
        )
        _publish_speakers(item)
    return req


def _speaker_request(item: AgendaItem, request_id: int) -> SpeakerRequest:
    req = SpeakerRequest.objects.filter(item=item, pk=request_id).first()
    if req is None:
        raise base_errors.NotFound("No such request to speak.")
    return req


def grant_floor(item: AgendaItem, request_id: int, *, acting_user: User, source_ip: str | None = None) -> SpeakerRequest:
    """Give the floor to one waiting speaker on the running item; one speaker at a time."""
    with transaction.atomic():
        meeting, item = _reread_item(item)
        _require_item(acting_user, item)
        _require_runner(acting_user, meeting)
        req = _speaker_request(item, request_id)
        _require_state(meeting, (Meeting.State.IN_SESSION,), "give the floor")
        if item.started_at is None or item.ended_at is not None:
            raise ItemWrongStatus("The floor is given on the running item only.")
        if req.state != SpeakerRequest.State.WAITING:
            raise FloorNotRequested("This request to speak is no longer waiting.")
        if SpeakerRequest.objects.filter(item=item, state=SpeakerRequest.State.SPEAKING).exists():
            raise FloorTaken()
        req.state, req.granted_at = SpeakerRequest.State.SPEAKING, timezone.now()
        try:
            with transaction.atomic():
                req.save(update_fields=["state", "granted_at"])
        except IntegrityError:
            raise FloorTaken()
        record(
            events.FLOOR_GRANTED,
            actor=acting_user,
            obj=req,
            source_ip=source_ip,
            details={"meeting": meeting.pk, "item": item.pk, "speaker": req.user_id, "time_limit_seconds": req.time_limit_seconds},
        )
        _publish_speakers(item)
    return req


def end_floor(item: AgendaItem, request_id: int, *, acting_user: User, source_ip: str | None = None) -> SpeakerRequest:
    with transaction.atomic():
        meeting, item = _reread_item(item)
        _require_item(acting_user, item)
        _require_runner(acting_user, meeting)
        req = _speaker_request(item, request_id)
        if req.state != SpeakerRequest.State.SPEAKING:
            raise FloorNotRequested("This speaker does not have the floor.")
        req.state, req.ended_at = SpeakerRequest.State.DONE, timezone.now()
        req.save(update_fields=["state", "ended_at"])
        spoke = int((req.ended_at - req.granted_at).total_seconds()) if req.granted_at else None
        record(
            events.FLOOR_ENDED,
            actor=acting_user,
            obj=req,
            source_ip=source_ip,
            details={"meeting": meeting.pk, "item": item.pk, "speaker": req.user_id, "spoke_seconds": spoke},
        )
        _publish_speakers(item)
    return req
