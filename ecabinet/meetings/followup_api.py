"""After-the-session endpoints: decisions, follow-up tasks, minutes (and their PDF), efficiency."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema, Status
from pydantic import Field

from ecabinet import errors as base_errors
from ecabinet.identity.auth import api_user, session_or_token
from ecabinet.identity.models import Organisation, Role, User
from ecabinet.identity.schemas import Input
from ecabinet.meetings import errors, followup, permissions, report
from ecabinet.meetings.models import AgendaItem, Decision, FollowUpTask, Meeting, Minutes
from ecabinet.web.net import client_ip

router = Router(auth=session_or_token, tags=["meetings: after the session"])


# --- schemas -----------------------------------------------------------------------------------


class DecisionIn(Input):
    text: str = Field(min_length=1, max_length=20000)
    outcome: Literal["decided", "deferred", "noted"] | None = None
    version: int | None = Field(default=None, ge=0, description="the decision's version you read; omit for a first decision")


class DecisionOut(Schema):
    id: int
    item_id: int
    item_title: str
    text: str
    outcome: str
    by_consent: bool
    decided_at: datetime
    recorded_by: str
    version: int


class TaskIn(Input):
    title: str = Field(min_length=1, max_length=400)
    assignee_org_id: int
    assignee_id: int | None = None
    due_date: date


class TaskEditIn(Input):
    version: int = Field(ge=1)
    title: str | None = Field(default=None, min_length=1, max_length=400)
    due_date: date | None = None
    assignee_org_id: int | None = None
    assignee_id: int | None = None
    clear_assignee: bool = False


class TaskUpdateIn(Input):
    version: int = Field(ge=1)
    state: Literal["open", "in_progress", "done"]
    comment: str = Field(min_length=1, max_length=5000)


class NamedOut(Schema):
    id: int
    name: str


class TaskUpdateOut(Schema):
    id: int
    user: str
    state: str
    comment: str
    created_at: datetime


class TaskOut(Schema):
    id: int
    meeting_id: int
    meeting_title: str
    item_id: int
    item_title: str
    decision_id: int
    title: str
    assignee_org: NamedOut
    assignee: NamedOut | None
    due_date: date
    state: str
    display_state: str
    overdue: bool
    created_at: datetime
    done_at: datetime | None
    version: int
    updates: list[TaskUpdateOut] | None = None


class MinutesDraftIn(Input):
    language: Literal["vi", "en"] = "vi"
    version: int | None = Field(default=None, ge=0, description="the version you read, when drafting again")


class MinutesEditIn(Input):
    text: str = Field(min_length=1, max_length=500_000)
    version: int = Field(ge=1)


class VersionIn(Input):
    version: int = Field(ge=1)


class MinutesOut(Schema):
    meeting_id: int
    state: str
    text: str
    version: int
    drafted_at: datetime
    edited_at: datetime | None
    edited_by: str | None
    approved_at: datetime | None
    approved_by: str | None
    pdf_sha256: str


class ItemFiguresOut(Schema):
    item_id: int
    order: int
    title: str
    planned_minutes: int
    actual_minutes: float | None
    difference_minutes: float | None
    over_time: bool
    by_consent: bool
    outcome: str
    speakers: int
    speaker_minutes: float


class MeetingReportOut(Schema):
    meeting_id: int
    title: str
    planned_minutes: int
    actual_minutes: float | None
    baseline_minutes: int
    reduction_percent: float | None
    aim_percent: float
    aim_met: bool | None
    items_total: int
    items_by_consent: int
    consent_share_percent: float | None
    items_planned_minutes: int
    items_actual_minutes: float
    speaker_minutes: float
    speaker_share_percent: float | None
    items: list[ItemFiguresOut]


class SummaryOut(Schema):
    meetings: int
    baseline_minutes: int
    average_actual_minutes: float | None
    average_planned_minutes: float | None
    average_reduction_percent: float | None
    meetings_meeting_aim: int
    aim_percent: float
    items_total: int
    items_by_consent: int
    consent_share_percent: float | None
    speaker_minutes: float


class EfficiencyOut(Schema):
    organisation_id: int
    summary: SummaryOut
    meetings: list[MeetingReportOut]


class BaselineIn(Input):
    baseline_meeting_minutes: int = Field(ge=1, le=followup.MAX_BASELINE_MINUTES)


class BaselineOut(Schema):
    organisation_id: int
    baseline_meeting_minutes: int


# --- loading what the caller may see (anything else is a 404) ----------------------------------


def _meeting(request: HttpRequest, meeting_id: int) -> Meeting:
    meeting = Meeting.objects.select_related("organisation", "chair").filter(pk=meeting_id).first()
    if meeting is None or not permissions.can_see_meeting(api_user(request), meeting):
        raise base_errors.NotFound()
    return meeting


def _item(request: HttpRequest, meeting_id: int, item_id: int) -> AgendaItem:
    meeting = _meeting(request, meeting_id)
    item = AgendaItem.objects.select_related("meeting").filter(pk=item_id, meeting=meeting).first()
    if item is None or not permissions.can_see_item(api_user(request), item):
        raise base_errors.NotFound()
    return item


def _task(request: HttpRequest, task_id: int) -> FollowUpTask:
    task = FollowUpTask.objects.select_related(*TASK_RELATED).filter(pk=task_id).first()
    if task is None or not permissions.can_see_task(api_user(request), task):
        raise base_errors.NotFound()
    return task


def _minutes(request: HttpRequest, meeting_id: int) -> Minutes:
    meeting = _meeting(request, meeting_id)
    minutes = Minutes.objects.select_related("meeting", "edited_by", "approved_by").filter(meeting=meeting).first()
    if minutes is None or not permissions.can_see_minutes(api_user(request), minutes):
        raise base_errors.NotFound("These minutes have not been drafted yet, or are not yours to see.")
    return minutes


def _organisation(request: HttpRequest, org_id: int) -> Organisation:
    user = api_user(request)
    org = Organisation.objects.filter(pk=org_id).first()
    if org is None or user.organisation is None or org.government.pk != user.organisation.government.pk:
        raise base_errors.NotFound()
    return org


def _reference(model: Any, pk: int | None, field: str) -> Any:
    if pk is None:
        return None
    found = model.objects.filter(pk=pk).first()
    if found is None:
        raise errors.InvalidTaskData(f"{field}: no such record", field=field)
    return found


TASK_RELATED = ("decision__item__meeting__organisation", "assignee_org", "assignee")


# --- serialising -------------------------------------------------------------------------------


def decision_out(decision: Decision) -> dict[str, Any]:
    return {
        "id": decision.pk,
        "item_id": decision.item_id,
        "item_title": decision.item.title,
        "text": decision.text,
        "outcome": decision.item.outcome,
        "by_consent": decision.by_consent,
        "decided_at": decision.decided_at,
        "recorded_by": decision.recorded_by.display_name,
        "version": decision.version,
    }


def task_out(task: FollowUpTask, *, with_updates: bool = False) -> dict[str, Any]:
    item = task.decision.item
    body: dict[str, Any] = {
        "id": task.pk,
        "meeting_id": item.meeting_id,
        "meeting_title": item.meeting.title,
        "item_id": item.pk,
        "item_title": item.title,
        "decision_id": task.decision_id,
        "title": task.title,
        "assignee_org": {"id": task.assignee_org.pk, "name": task.assignee_org.name},
        "assignee": {"id": task.assignee.pk, "name": task.assignee.display_name} if task.assignee else None,
        "due_date": task.due_date,
        "state": task.state,
        "display_state": task.display_state,
        "overdue": task.overdue,
        "created_at": task.created_at,
        "done_at": task.done_at,
        "version": task.version,
    }
    if with_updates:
        body["updates"] = [
            {"id": u.pk, "user": u.user.display_name, "state": u.state, "comment": u.comment, "created_at": u.created_at}
            for u in task.updates.select_related("user")
        ]
    return body


def minutes_out(minutes: Minutes) -> dict[str, Any]:
    return {
        "meeting_id": minutes.meeting_id,
        "state": minutes.state,
        "text": minutes.text,
        "version": minutes.version,
        "drafted_at": minutes.drafted_at,
        "edited_at": minutes.edited_at,
        "edited_by": minutes.edited_by.display_name if minutes.edited_by else None,
        "approved_at": minutes.approved_at,
        "approved_by": minutes.approved_by.display_name if minutes.approved_by else None,
        "pdf_sha256": minutes.pdf_sha256,
    }


def _only_overdue(tasks: list[FollowUpTask], overdue: bool | None) -> list[FollowUpTask]:
    return tasks if overdue is None else [t for t in tasks if t.overdue == overdue]


# --- decisions ---------------------------------------------------------------------------------


@router.get("/meetings/{meeting_id}/decisions", response=list[DecisionOut], summary="Decisions on the items the caller may see")
def list_decisions(request: HttpRequest, meeting_id: int) -> list[dict[str, Any]]:
    meeting = _meeting(request, meeting_id)
    items = [i for i in permissions.visible_items(api_user(request), meeting) if i.status == AgendaItem.Status.ACCEPTED]
    decisions = Decision.objects.filter(item__in=items).select_related("item", "recorded_by").order_by("item__order", "item__pk")
    return [decision_out(d) for d in decisions]


@router.put("/meetings/{meeting_id}/items/{item_id}/decision", response=DecisionOut, summary="Record or rewrite the decision on an item")
def put_decision(request: HttpRequest, meeting_id: int, item_id: int, payload: DecisionIn) -> dict[str, Any]:
    item = _item(request, meeting_id, item_id)
    decision = followup.record_decision(
        item, text=payload.text, outcome=payload.outcome, expected_version=payload.version, acting_user=api_user(request), source_ip=client_ip(request)
    )
    return decision_out(Decision.objects.select_related("item", "recorded_by").get(pk=decision.pk))


# --- tasks -------------------------------------------------------------------------------------


@router.post("/meetings/{meeting_id}/items/{item_id}/tasks", response={201: TaskOut}, summary="Assign a follow-up task on an item's decision")
def create_task(request: HttpRequest, meeting_id: int, item_id: int, payload: TaskIn) -> Status[dict[str, Any]]:
    item = _item(request, meeting_id, item_id)
    decision = Decision.objects.filter(item=item).first()
    if decision is None:
        raise errors.ItemWrongStatus("Record the decision on this item before assigning tasks.", item_outcome=item.outcome)
    task = followup.create_task(
        decision,
        title=payload.title,
        assignee_org=_reference(Organisation, payload.assignee_org_id, "assignee_org_id"),
        assignee=_reference(User, payload.assignee_id, "assignee_id"),
        due_date=payload.due_date,
        acting_user=api_user(request),
        source_ip=client_ip(request),
    )
    return Status(201, task_out(FollowUpTask.objects.select_related(*TASK_RELATED).get(pk=task.pk)))


@router.get("/meetings/{meeting_id}/tasks", response=list[TaskOut], summary="Follow-up tasks of a meeting (all of them for the office)")
def meeting_tasks(request: HttpRequest, meeting_id: int, overdue: bool | None = None) -> list[dict[str, Any]]:
    meeting = _meeting(request, meeting_id)
    user = api_user(request)
    tasks = FollowUpTask.objects.filter(decision__item__meeting=meeting).select_related(*TASK_RELATED).order_by("due_date", "pk")
    return [task_out(t) for t in _only_overdue([t for t in tasks if permissions.can_see_task(user, t)], overdue)]


@router.get("/tasks/mine", response=list[TaskOut], summary="Tasks assigned to the caller or the caller's ministry")
def my_tasks(request: HttpRequest, overdue: bool | None = None) -> list[dict[str, Any]]:
    tasks = permissions.tasks_assigned_to(api_user(request)).select_related(*TASK_RELATED).order_by("due_date", "pk")
    return [task_out(t) for t in _only_overdue(list(tasks), overdue)]


@router.get("/tasks/overdue", response=list[TaskOut], summary="Overdue tasks: all of the government's for the office, else the caller's own")
def overdue_tasks(request: HttpRequest) -> list[dict[str, Any]]:
    user = api_user(request)
    if permissions.is_office_secretary(user):
        found = [t for t in followup.overdue_tasks() if permissions.can_see_task(user, t)]
    else:
        mine = set(permissions.tasks_assigned_to(user).values_list("pk", flat=True))
        found = [t for t in followup.overdue_tasks() if t.pk in mine]
    return [task_out(t) for t in found]


@router.get("/tasks/{task_id}", response=TaskOut, summary="A task with its progress updates")
def task_detail(request: HttpRequest, task_id: int) -> dict[str, Any]:
    return task_out(_task(request, task_id), with_updates=True)


@router.patch("/tasks/{task_id}", response=TaskOut, summary="Change a task's title, due date or assignment")
def edit_task(request: HttpRequest, task_id: int, payload: TaskEditIn) -> dict[str, Any]:
    task = _task(request, task_id)
    assignee: Any = followup._UNSET
    if payload.clear_assignee:
        assignee = None
    elif payload.assignee_id is not None:
        assignee = _reference(User, payload.assignee_id, "assignee_id")
    followup.edit_task(
        task,
        expected_version=payload.version,
        title=payload.title,
        due_date=payload.due_date,
        assignee_org=_reference(Organisation, payload.assignee_org_id, "assignee_org_id"),
        assignee=assignee,
        acting_user=api_user(request),
        source_ip=client_ip(request),
    )
    return task_out(FollowUpTask.objects.select_related(*TASK_RELATED).get(pk=task.pk), with_updates=True)


@router.post("/tasks/{task_id}/updates", response={201: TaskOut}, summary="Report progress on a task, with a comment")
def update_task(request: HttpRequest, task_id: int, payload: TaskUpdateIn) -> Status[dict[str, Any]]:
    task = _task(request, task_id)
    followup.update_task_progress(
        task, state=payload.state, comment=payload.comment, expected_version=payload.version, acting_user=api_user(request), source_ip=client_ip(request)
    )
    return Status(201, task_out(FollowUpTask.objects.select_related(*TASK_RELATED).get(pk=task.pk), with_updates=True))


# --- minutes -----------------------------------------------------------------------------------


@router.get("/meetings/{meeting_id}/minutes", response=MinutesOut, summary="The minutes (drafts only for the office and the chair)")
def get_minutes(request: HttpRequest, meeting_id: int) -> dict[str, Any]:
    return minutes_out(_minutes(request, meeting_id))


@router.post("/meetings/{meeting_id}/minutes/draft", response=MinutesOut, summary="Draft the minutes from the session record")
def draft_minutes(request: HttpRequest, meeting_id: int, payload: MinutesDraftIn) -> dict[str, Any]:
    meeting = _meeting(request, meeting_id)
    minutes = followup.draft_minutes(
        meeting, language=payload.language, expected_version=payload.version, acting_user=api_user(request), source_ip=client_ip(request)
    )
    return minutes_out(minutes)


@router.put("/meetings/{meeting_id}/minutes", response=MinutesOut, summary="Replace the text of the minutes")
def edit_minutes(request: HttpRequest, meeting_id: int, payload: MinutesEditIn) -> dict[str, Any]:
    minutes = _minutes(request, meeting_id)
    return minutes_out(
        followup.edit_minutes(minutes, text=payload.text, expected_version=payload.version, acting_user=api_user(request), source_ip=client_ip(request))
    )


@router.post("/meetings/{meeting_id}/minutes/submit", response=MinutesOut, summary="Submit the minutes to the chair")
def submit_minutes(request: HttpRequest, meeting_id: int, payload: VersionIn) -> dict[str, Any]:
    minutes = _minutes(request, meeting_id)
    return minutes_out(followup.submit_minutes(minutes, expected_version=payload.version, acting_user=api_user(request), source_ip=client_ip(request)))


@router.post("/meetings/{meeting_id}/minutes/approve", response=MinutesOut, summary="Approve the minutes (the chair only); they are then frozen")
def approve_minutes(request: HttpRequest, meeting_id: int, payload: VersionIn) -> dict[str, Any]:
    minutes = _minutes(request, meeting_id)
    return minutes_out(followup.approve_minutes(minutes, expected_version=payload.version, acting_user=api_user(request), source_ip=client_ip(request)))


def pdf_response(content: bytes, meeting: Meeting, minutes: Minutes) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    suffix = "" if minutes.state == Minutes.State.APPROVED else "-du-thao"
    response["Content-Disposition"] = f'attachment; filename="bien-ban-phien-hop-{meeting.pk}{suffix}.pdf"'
    response["Cache-Control"] = "private, no-store"
    if minutes.pdf_sha256 and minutes.state == Minutes.State.APPROVED:
        response["Digest"] = f"sha-256={minutes.pdf_sha256}"
    return response


@router.get(
    "/meetings/{meeting_id}/minutes/pdf",
    response={200: None},
    summary="The minutes as PDF",
    openapi_extra={"responses": {200: {"content": {"application/pdf": {}}}}},
)
def minutes_pdf(request: HttpRequest, meeting_id: int) -> HttpResponse:
    minutes = _minutes(request, meeting_id)
    content = followup.export_minutes_pdf(minutes, acting_user=api_user(request), source_ip=client_ip(request))
    return pdf_response(content, minutes.meeting, minutes)


# --- efficiency --------------------------------------------------------------------------------


@router.get("/meetings/{meeting_id}/report", response=MeetingReportOut, summary="Planned against actual time, consent share, speakers, reduction")
def meeting_report(request: HttpRequest, meeting_id: int) -> dict[str, Any]:
    meeting = _meeting(request, meeting_id)
    if not permissions.can_see_report(api_user(request), meeting):
        raise base_errors.Forbidden("Guests do not see meeting reports.")
    return asdict(report.meeting_report(api_user(request), meeting))


@router.get("/meeting-efficiency/{org_id}", response=EfficiencyOut, summary="An organisation's closed meetings against its baseline")
def organisation_efficiency(request: HttpRequest, org_id: int) -> dict[str, Any]:
    org = _organisation(request, org_id)
    if api_user(request).role == Role.GUEST:
        raise base_errors.Forbidden("Guests do not see meeting reports.")
    summary, meetings = report.organisation_report(api_user(request), org)
    return {"organisation_id": org.pk, "summary": asdict(summary), "meetings": [asdict(m) for m in meetings]}


@router.get("/meeting-efficiency/{org_id}/baseline", response=BaselineOut, summary="The baseline average meeting length")
def get_baseline(request: HttpRequest, org_id: int) -> dict[str, int]:
    org = _organisation(request, org_id)
    return {"organisation_id": org.pk, "baseline_meeting_minutes": followup.rules_for(org).baseline_meeting_minutes}


@router.put("/meeting-efficiency/{org_id}/baseline", response=BaselineOut, summary="Set the baseline (office secretary or administrator)")
def put_baseline(request: HttpRequest, org_id: int, payload: BaselineIn) -> dict[str, int]:
    org = _organisation(request, org_id)
    rules = followup.set_baseline(org, minutes=payload.baseline_meeting_minutes, acting_user=api_user(request), source_ip=client_ip(request))
    return {"organisation_id": org.pk, "baseline_meeting_minutes": rules.baseline_meeting_minutes}
