"""After the session: decisions on items, follow-up tasks, minutes, and the baseline for the report.

Every function here is an action: atomic, keyword-only ``acting_user``, one audit entry, live
events only after commit. Callers have already made sure the object is visible to the user (a 404
otherwise); these functions check what the user may do with it (403) and whether the state allows
it (409), and change nothing when they refuse.
"""

from __future__ import annotations

import hashlib
import unicodedata
from datetime import date, timedelta
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from ecabinet.audit.actions import record
from ecabinet.errors import Forbidden, InvalidInput, ServerError
from ecabinet.identity.models import Organisation, Role, User
from ecabinet.meetings import broadcast, errors, events, permissions
from ecabinet.meetings.models import AgendaItem, Decision, FollowUpTask, Meeting, MeetingRules, Minutes, TaskUpdate

# Decisions may be written while the session runs and afterwards, until the minutes are approved.
DECISION_STATES = (Meeting.State.IN_SESSION, Meeting.State.ADJOURNED, Meeting.State.CLOSED)
# Minutes describe a finished session.
MINUTES_STATES = (Meeting.State.ADJOURNED, Meeting.State.CLOSED)
SESSION_OUTCOMES = (AgendaItem.Outcome.DECIDED, AgendaItem.Outcome.DEFERRED, AgendaItem.Outcome.NOTED)
TASK_ORG_KINDS = (Organisation.Kind.MINISTRY, Organisation.Kind.AGENCY, Organisation.Kind.OFFICE)
MAX_DUE_DAYS = 3650
MAX_BASELINE_MINUTES = 24 * 60


def clean_text(value: str) -> str:
    """Vietnamese text is stored NFC-normalised, so the same words compare and search equal."""
    return unicodedata.normalize("NFC", value).strip()


def _check_version(obj: Any, expected: int | None, what: str) -> None:
    if expected is None or expected != obj.version:
        raise errors.StaleVersion(
            f"The {what} is at version {obj.version}; you sent {expected if expected is not None else 'none'}. Reload and try again.",
            current_version=obj.version,
        )


def _minutes_approved(meeting: Meeting) -> bool:
    return Minutes.objects.filter(meeting=meeting, state=Minutes.State.APPROVED).exists()


# --- decisions ---------------------------------------------------------------------------------


def record_decision(
    item: AgendaItem,
    *,
    text: str,
    outcome: str | None = None,
    expected_version: int | None = None,
    acting_user: User,
    source_ip: str | None = None,
) -> Decision:
    """Write or rewrite the conclusion on an item and set its outcome.

    A first decision needs no version; rewriting one needs the version read (stale → 409). Without
    an outcome a new decision marks the item DECIDED and a rewrite keeps the outcome it had (so the
    wording of a consent decision can be corrected without reopening it).
    """
    text = clean_text(text)
    if not text:
        raise InvalidInput("The decision text is empty.")
    if outcome is not None and outcome not in SESSION_OUTCOMES:
        raise InvalidInput(f"outcome must be one of {', '.join(SESSION_OUTCOMES)}")
    with transaction.atomic():
        item = AgendaItem.objects.select_for_update().select_related("meeting").get(pk=item.pk)
        meeting = item.meeting
        if not permissions.can_record_decision(acting_user, item):
            raise Forbidden("Only the chair or an office secretary records decisions.")
        if meeting.state not in DECISION_STATES:
            raise errors.WrongState(f"Decisions are recorded during or after the session; the meeting is {meeting.state}.", state=meeting.state)
        if item.status != AgendaItem.Status.ACCEPTED:
            raise errors.ItemWrongStatus("Only items on the agenda get a decision.", item_status=item.status)
        if _minutes_approved(meeting):
            raise errors.MinutesFrozen("The minutes are approved; their decisions can no longer change.")
        decision = Decision.objects.select_for_update().filter(item=item).first()
        created = decision is None
        if decision is None:
            if expected_version not in (None, 0):
                raise errors.StaleVersion("This item has no decision yet; reload and try again.", current_version=0)
            decision = Decision.objects.create(item=item, text=text, recorded_by=acting_user)
            new_outcome = outcome or AgendaItem.Outcome.DECIDED
        else:
            _check_version(decision, expected_version, "decision")
            decision.text = text
            decision.version += 1
            decision.recorded_by = acting_user
            decision.decided_at = timezone.now()
            if outcome is not None:
                decision.by_consent = False
            decision.save(update_fields=["text", "version", "recorded_by", "decided_at", "by_consent"])
            new_outcome = outcome or (item.outcome if item.outcome != AgendaItem.Outcome.PENDING else AgendaItem.Outcome.DECIDED)
        item.outcome = new_outcome
        item.version += 1
        item.save(update_fields=["outcome", "version"])
        record(
            events.DECISION_RECORDED,
            actor=acting_user,
            obj=decision,
            source_ip=source_ip,
            details={
                "meeting": meeting.pk,
                "item": item.pk,
                "outcome": new_outcome,
                "by_consent": decision.by_consent,
                "version": decision.version,
                "created": created,
                "chars": len(text),
            },
        )
        broadcast.publish(
            meeting.pk,
            "decision",
            {"item": item.pk, "text": text, "outcome": new_outcome, "by_consent": decision.by_consent, "version": decision.version},
            min_level=item.classification,
            item_id=item.pk,
        )
    return decision


# --- follow-up tasks ---------------------------------------------------------------------------


def _validate_due_date(due_date: date) -> None:
    today = timezone.localdate()
    if due_date < today:
        raise errors.InvalidTaskData(f"The due date {due_date.isoformat()} is in the past.", field="due_date")
    if due_date > today + timedelta(days=MAX_DUE_DAYS):
        raise errors.InvalidTaskData(f"The due date {due_date.isoformat()} is more than ten years ahead.", field="due_date")


def _validate_assignees(item: AgendaItem, assignee_org: Organisation, assignee: User | None) -> None:
    government = item.meeting.organisation.government
    if assignee_org.kind not in TASK_ORG_KINDS or assignee_org.government.pk != government.pk:
        raise errors.InvalidTaskData("Tasks are assigned to a ministry, agency or the office of this government.", field="assignee_org_id")
    if assignee is None:
        return
    level = max(item.classification, item.meeting.classification)
    if not assignee.is_active or assignee.role == Role.GUEST or assignee.organisation_id != assignee_org.pk:
        raise errors.InvalidTaskData("The person must be an active member or secretary of the assigned organisation.", field="assignee_id")
    if assignee.clearance < level:
        raise errors.InvalidTaskData("The person is not cleared for this item.", field="assignee_id")


def create_task(
    decision: Decision,
    *,
    title: str,
    assignee_org: Organisation,
    due_date: date,
    assignee: User | None = None,
    acting_user: User,
    source_ip: str | None = None,
) -> FollowUpTask:
    title = clean_text(title)
    if not title:
        raise errors.InvalidTaskData("The task title is empty.", field="title")
    with transaction.atomic():
        decision = Decision.objects.select_for_update().select_related("item__meeting__organisation").get(pk=decision.pk)
        item = decision.item
        if not permissions.can_assign_tasks(acting_user, item):
            raise Forbidden("Only the chair or an office secretary assigns follow-up tasks.")
        if item.meeting.state not in DECISION_STATES:
            raise errors.WrongState(f"The meeting is {item.meeting.state}.", state=item.meeting.state)
        _validate_due_date(due_date)
        _validate_assignees(item, assignee_org, assignee)
        task = FollowUpTask.objects.create(
            decision=decision, title=title, assignee_org=assignee_org, assignee=assignee, due_date=due_date, created_by=acting_user
        )
        record(
            events.TASK_CREATED,
            actor=acting_user,
            obj=task,
            source_ip=source_ip,
            details={
                "meeting": item.meeting_id,
                "item": item.pk,
                "assignee_org": assignee_org.pk,
                "assignee": assignee.pk if assignee else None,
                "due_date": due_date.isoformat(),
            },
        )
        from ecabinet.notify import hooks

        hooks.task_assigned(task, acting_user=acting_user)
    return task


_UNSET: Any = object()


def edit_task(
    task: FollowUpTask,
    *,
    expected_version: int | None,
    title: str | None = None,
    due_date: date | None = None,
    assignee_org: Organisation | None = None,
    assignee: User | None = _UNSET,
    acting_user: User,
    source_ip: str | None = None,
) -> FollowUpTask:
    """Change what was assigned, to whom, or by when (the chair or an office secretary)."""
    with transaction.atomic():
        task = FollowUpTask.objects.select_for_update().select_related("decision__item__meeting__organisation", "assignee_org").get(pk=task.pk)
        item = task.decision.item
        if not permissions.can_assign_tasks(acting_user, item):
            raise Forbidden("Only the chair or an office secretary changes a task's assignment.")
        _check_version(task, expected_version, "task")
        changed: dict[str, Any] = {}
        if title is not None:
            title = clean_text(title)
            if not title:
                raise errors.InvalidTaskData("The task title is empty.", field="title")
            if title != task.title:
                task.title, changed["title"] = title, True
        if due_date is not None and due_date != task.due_date:
            _validate_due_date(due_date)
            changed["due_date"] = {"from": task.due_date.isoformat(), "to": due_date.isoformat()}
            task.due_date = due_date
        new_org = assignee_org or task.assignee_org
        new_person = task.assignee if assignee is _UNSET else assignee
        if new_org.pk != task.assignee_org_id or (new_person.pk if new_person else None) != task.assignee_id:
            _validate_assignees(item, new_org, new_person)
            changed["assignee_org"] = new_org.pk
            changed["assignee"] = new_person.pk if new_person else None
            task.assignee_org, task.assignee = new_org, new_person
        if not changed:
            return task
        task.version += 1
        task.save()
        record(events.TASK_UPDATED, actor=acting_user, obj=task, source_ip=source_ip, details={"changed": changed, "version": task.version})
    return task


def update_task_progress(
    task: FollowUpTask,
    *,
    state: str,
    comment: str,
    expected_version: int | None,
    acting_user: User,
    source_ip: str | None = None,
) -> TaskUpdate:
    """The assignee (or an office secretary) reports progress: a new state and a comment."""
    comment = clean_text(comment)
    if state not in FollowUpTask.State.values:
        raise errors.InvalidTaskData(f"state must be one of {', '.join(FollowUpTask.State.values)}", field="state")
    if not comment:
        raise errors.InvalidTaskData("Say what was done: the comment is empty.", field="comment")
    with transaction.atomic():
        task = FollowUpTask.objects.select_for_update().select_related("decision__item__meeting").get(pk=task.pk)
        if not permissions.can_report_on_task(acting_user, task):
            raise Forbidden("Only the assignee or an office secretary reports progress on this task.")
        _check_version(task, expected_version, "task")
        previous = task.state
        task.state = state
        if state == FollowUpTask.State.DONE and previous != FollowUpTask.State.DONE:
            task.done_at = timezone.now()
        elif state != FollowUpTask.State.DONE:
            task.done_at = None
        task.version += 1
        task.save(update_fields=["state", "done_at", "version"])
        update = TaskUpdate.objects.create(task=task, user=acting_user, state=state, comment=comment)
        record(
            events.TASK_UPDATED,
            actor=acting_user,
            obj=task,
            source_ip=source_ip,
            details={"state": {"from": previous, "to": state}, "update": update.pk, "version": task.version},
        )
    return update


def overdue_tasks() -> list[FollowUpTask]:
    """Tasks past their due date and not done, oldest due first (what the daily job lists)."""
    today = timezone.localdate()
    return list(
        FollowUpTask.objects.exclude(state=FollowUpTask.State.DONE)
        .filter(due_date__lt=today)
        .select_related("assignee_org", "assignee", "decision__item__meeting")
        .order_by("due_date", "pk")
    )


# --- minutes -----------------------------------------------------------------------------------


def _locked_minutes(minutes: Minutes) -> Minutes:
    return Minutes.objects.select_for_update().select_related("meeting").get(pk=minutes.pk)


def _refuse_if_frozen(minutes: Minutes) -> None:
    if minutes.state == Minutes.State.APPROVED:
        raise errors.MinutesFrozen()


def draft_minutes(
    meeting: Meeting,
    *,
    language: str = "vi",
    expected_version: int | None = None,
    acting_user: User,
    source_ip: str | None = None,
) -> Minutes:
    """Draft (or redraft, replacing the text) the minutes from the session record."""
    from ecabinet.meetings import minutes as minutes_text

    with transaction.atomic():
        meeting = Meeting.objects.select_for_update().get(pk=meeting.pk)
        if not permissions.can_write_minutes(acting_user, meeting):
            raise Forbidden("Only a secretary of the government office drafts the minutes.")
        if meeting.state not in MINUTES_STATES:
            raise errors.WrongState(f"Minutes are drafted once the session is adjourned or closed; the meeting is {meeting.state}.", state=meeting.state)
        text = minutes_text.draft_text(meeting, language=language)
        existing = Minutes.objects.select_for_update().filter(meeting=meeting).first()
        if existing is None:
            if expected_version not in (None, 0):
                raise errors.StaleVersion("These minutes have not been drafted yet; reload and try again.", current_version=0)
            minutes = Minutes.objects.create(meeting=meeting, text=text, edited_by=acting_user, edited_at=timezone.now())
        else:
            minutes = existing
            _refuse_if_frozen(minutes)
            _check_version(minutes, expected_version, "minutes")
            minutes.text = text
            minutes.state = Minutes.State.DRAFT
            minutes.drafted_at = minutes.edited_at = timezone.now()
            minutes.edited_by = acting_user
            minutes.version += 1
            minutes.save()
        record(
            events.MINUTES_DRAFTED,
            actor=acting_user,
            obj=minutes,
            source_ip=source_ip,
            details={"meeting": meeting.pk, "language": language, "version": minutes.version, "redraft": existing is not None},
        )
    return minutes


def edit_minutes(minutes: Minutes, *, text: str, expected_version: int | None, acting_user: User, source_ip: str | None = None) -> Minutes:
    """Replace the text. Editing submitted minutes takes them back to draft, to be submitted again."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").rstrip() + "\n"
    if not text.strip():
        raise InvalidInput("The minutes text is empty.")
    with transaction.atomic():
        minutes = _locked_minutes(minutes)
        if not permissions.can_write_minutes(acting_user, minutes.meeting):
            raise Forbidden("Only a secretary of the government office edits the minutes.")
        _refuse_if_frozen(minutes)
        _check_version(minutes, expected_version, "minutes")
        previous = minutes.state
        minutes.text = text
        minutes.state = Minutes.State.DRAFT
        minutes.edited_by = acting_user
        minutes.edited_at = timezone.now()
        minutes.version += 1
        minutes.save()
        record(
            events.MINUTES_EDITED,
            actor=acting_user,
            obj=minutes,
            source_ip=source_ip,
            details={"meeting": minutes.meeting_id, "version": minutes.version, "state": {"from": previous, "to": minutes.state}, "chars": len(text)},
        )
    return minutes


def submit_minutes(minutes: Minutes, *, expected_version: int | None, acting_user: User, source_ip: str | None = None) -> Minutes:
    with transaction.atomic():
        minutes = _locked_minutes(minutes)
        if not permissions.can_write_minutes(acting_user, minutes.meeting):
            raise Forbidden("Only a secretary of the government office submits the minutes.")
        _refuse_if_frozen(minutes)
        _check_version(minutes, expected_version, "minutes")
        if minutes.state != Minutes.State.DRAFT:
            raise errors.MinutesWrongState("The minutes are already submitted.", state=minutes.state)
        minutes.state = Minutes.State.SUBMITTED
        minutes.version += 1
        minutes.save(update_fields=["state", "version"])
        record(
            events.MINUTES_SUBMITTED, actor=acting_user, obj=minutes, source_ip=source_ip, details={"meeting": minutes.meeting_id, "version": minutes.version}
        )
        from ecabinet.notify import hooks

        hooks.minutes_submitted(minutes, acting_user=acting_user)
    return minutes


def pdf_storage_name(minutes: Minutes) -> str:
    return f"minutes/{minutes.meeting_id}/{minutes.pdf_sha256}.pdf"


def approve_minutes(minutes: Minutes, *, expected_version: int | None, acting_user: User, source_ip: str | None = None) -> Minutes:
    """The chair approves: the text is frozen and its PDF rendered once, kept and fingerprinted."""
    from ecabinet.meetings import pdf

    with transaction.atomic():
        minutes = _locked_minutes(minutes)
        if not permissions.can_approve_minutes(acting_user, minutes.meeting):
            raise Forbidden("Only the chair of the meeting approves its minutes.")
        _refuse_if_frozen(minutes)
        _check_version(minutes, expected_version, "minutes")
        if minutes.state != Minutes.State.SUBMITTED:
            raise errors.MinutesWrongState("The secretary has not submitted these minutes yet.", state=minutes.state)
        minutes.state = Minutes.State.APPROVED
        minutes.approved_by = acting_user
        minutes.approved_at = timezone.now()
        minutes.version += 1
        content = pdf.render_minutes(minutes)
        minutes.pdf_sha256 = hashlib.sha256(content).hexdigest()
        # Content-addressed, so a rolled-back approval leaves at most an unreferenced file.
        name = pdf_storage_name(minutes)
        if not default_storage.exists(name):
            default_storage.save(name, ContentFile(content))
        minutes.save()
        record(
            events.MINUTES_APPROVED,
            actor=acting_user,
            obj=minutes,
            source_ip=source_ip,
            details={"meeting": minutes.meeting_id, "version": minutes.version, "pdf_sha256": minutes.pdf_sha256},
        )
    return minutes


def export_minutes_pdf(minutes: Minutes, *, acting_user: User, source_ip: str | None = None) -> bytes:
    """The PDF of the minutes for someone who may see them: the kept one once approved, else a draft."""
    from ecabinet.meetings import pdf

    content = _approved_pdf(minutes) if minutes.state == Minutes.State.APPROVED else pdf.render_minutes(minutes)
    digest = hashlib.sha256(content).hexdigest()
    with transaction.atomic():
        record(
            events.MINUTES_EXPORTED,
            actor=acting_user,
            obj=minutes,
            source_ip=source_ip,
            details={"meeting": minutes.meeting_id, "state": minutes.state, "version": minutes.version, "pdf_sha256": digest},
        )
    return content


def _approved_pdf(minutes: Minutes) -> bytes:
    from ecabinet.meetings import pdf

    name = pdf_storage_name(minutes)
    if default_storage.exists(name):
        with default_storage.open(name, "rb") as handle:
            content: bytes = handle.read()
    else:
        # The kept file is gone (a new volume); rendering is deterministic, so it can be remade.
        content = pdf.render_minutes(minutes)
    if hashlib.sha256(content).hexdigest() != minutes.pdf_sha256:
        raise ServerError("The approved minutes PDF does not match its recorded fingerprint.")
    if not default_storage.exists(name):
        default_storage.save(name, ContentFile(content))
    return content


# --- the baseline for the efficiency report ----------------------------------------------------


def rules_for(organisation: Organisation) -> MeetingRules:
    """The organisation's rules, else its government's, else the defaults (unsaved)."""
    for org in (organisation, organisation.government):
        found = MeetingRules.objects.filter(organisation=org).first()
        if found is not None:
            return found
    return MeetingRules(organisation=organisation)


def set_baseline(organisation: Organisation, *, minutes: int, acting_user: User, source_ip: str | None = None) -> MeetingRules:
    if not permissions.can_set_baseline(acting_user, organisation):
        raise Forbidden("Only an office secretary or an administrator sets the baseline meeting length.")
    if not 1 <= minutes <= MAX_BASELINE_MINUTES:
        raise errors.InvalidMeetingData(f"The baseline must be between 1 and {MAX_BASELINE_MINUTES} minutes.", field="baseline_meeting_minutes")
    with transaction.atomic():
        rules, _created = MeetingRules.objects.select_for_update().get_or_create(organisation=organisation)
        previous = rules.baseline_meeting_minutes
        rules.baseline_meeting_minutes = minutes
        rules.save(update_fields=["baseline_meeting_minutes"])
        record(
            events.RULES_CHANGED,
            actor=acting_user,
            obj=rules,
            source_ip=source_ip,
            details={"organisation": organisation.pk, "baseline_meeting_minutes": {"from": previous, "to": minutes}},
        )
    return rules
