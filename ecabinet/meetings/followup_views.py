"""Tablet pages after the session: decisions and tasks of a meeting, "my tasks", a task with its
progress, the minutes (draft, edit, submit, approve, PDF) and the efficiency report.

Pages call the same actions as the API; a refusal becomes a message, a hidden object a 404.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ecabinet import errors as base_errors
from ecabinet.identity.models import Organisation, Role, User
from ecabinet.meetings import followup, permissions, report
from ecabinet.meetings.followup_api import pdf_response
from ecabinet.meetings.models import AgendaItem, Decision, FollowUpTask, Meeting, Minutes
from ecabinet.web.net import client_ip
from ecabinet.web.views import mfa_login_required

TASK_RELATED = ("decision__item__meeting", "assignee_org", "assignee")


def _meeting(request: HttpRequest, meeting_id: int) -> Meeting:
    meeting = Meeting.objects.select_related("organisation", "chair").filter(pk=meeting_id).first()
    if meeting is None or not permissions.can_see_meeting(request.user, meeting):
        raise Http404
    return meeting


def _item(request: HttpRequest, meeting: Meeting, item_id: int) -> AgendaItem:
    item = AgendaItem.objects.select_related("meeting").filter(pk=item_id, meeting=meeting).first()
    if item is None or not permissions.can_see_item(request.user, item):
        raise Http404
    return item


def _task(request: HttpRequest, task_id: int) -> FollowUpTask:
    task = FollowUpTask.objects.select_related(*TASK_RELATED).filter(pk=task_id).first()
    if task is None or not permissions.can_see_task(request.user, task):
        raise Http404
    return task


def _attempt(request: HttpRequest, action: Callable[[], Any], success: str) -> bool:
    try:
        action()
    except base_errors.NotFound:
        raise Http404 from None
    except base_errors.ECabinetError as exc:
        messages.error(request, exc.detail)
        return False
    messages.success(request, success)
    return True


def _version(request: HttpRequest) -> int | None:
    raw = request.POST.get("version", "")
    return int(raw) if raw.isdigit() else None


def _assignable(user: Any) -> tuple[Any, Any]:
    if user.organisation is None:
        return Organisation.objects.none(), User.objects.none()
    gov = user.organisation.government
    orgs = Organisation.objects.filter(parent=gov, kind__in=followup.TASK_ORG_KINDS).order_by("name")
    people = User.objects.filter(is_active=True, organisation__in=orgs).exclude(role=Role.GUEST).order_by("full_name", "username")
    return orgs, people


class DecisionForm(forms.Form):
    text = forms.CharField(label=gettext_lazy("Decision"), widget=forms.Textarea(attrs={"rows": 4}), max_length=20000)
    outcome = forms.ChoiceField(
        label=gettext_lazy("Outcome"),
        choices=[("", gettext_lazy("Keep the current outcome"))] + [(o.value, o.label) for o in followup.SESSION_OUTCOMES],
        required=False,
    )


class TaskForm(forms.Form):
    title = forms.CharField(label=gettext_lazy("Task"), max_length=400)
    assignee_org = forms.ModelChoiceField(label=gettext_lazy("Ministry"), queryset=Organisation.objects.none())
    assignee = forms.ModelChoiceField(label=gettext_lazy("Person (optional)"), queryset=User.objects.none(), required=False)
    due_date = forms.DateField(label=gettext_lazy("Due date"), widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        orgs, people = _assignable(user)
        self.fields["assignee_org"].queryset = orgs  # type: ignore[attr-defined]
        self.fields["assignee"].queryset = people  # type: ignore[attr-defined]


class ProgressForm(forms.Form):
    state = forms.ChoiceField(label=gettext_lazy("State"), choices=FollowUpTask.State.choices)
    comment = forms.CharField(label=gettext_lazy("Comment"), widget=forms.Textarea(attrs={"rows": 3}), max_length=5000)


class BaselineForm(forms.Form):
    baseline_meeting_minutes = forms.IntegerField(label=gettext_lazy("Baseline meeting length (minutes)"), min_value=1, max_value=followup.MAX_BASELINE_MINUTES)


# --- decisions and tasks of a meeting -----------------------------------------------------------


@require_GET
@mfa_login_required
def meeting_tasks(request: HttpRequest, meeting_id: int) -> HttpResponse:
    meeting = _meeting(request, meeting_id)
    user = request.user
    items = [i for i in permissions.visible_items(user, meeting) if i.status == AgendaItem.Status.ACCEPTED]
    decisions = {d.item_id: d for d in Decision.objects.filter(item__in=items)}
    tasks: dict[int, list[FollowUpTask]] = {}
    for task in FollowUpTask.objects.filter(decision__item__in=items).select_related(*TASK_RELATED).order_by("due_date", "pk"):
        if permissions.can_see_task(user, task):
            tasks.setdefault(task.decision.item_id, []).append(task)
    open_for_decisions = meeting.state in followup.DECISION_STATES
    rows = []
    for item in items:
        decision = decisions.get(item.pk)
        can_decide = open_for_decisions and permissions.can_record_decision(user, item)
        rows.append(
            {
                "item": item,
                "decision": decision,
                "tasks": tasks.get(item.pk, []),
                "can_decide": can_decide,
                "decision_form": DecisionForm(initial={"text": decision.text if decision else ""}, prefix=f"d{item.pk}") if can_decide else None,
                "task_form": TaskForm(user=user, prefix=f"t{item.pk}") if can_decide and decision else None,  # type: ignore[arg-type]
            }
        )
    return render(request, "meetings/tasks_meeting.html", {"meeting": meeting, "rows": rows, "today": timezone.localdate()})


@require_POST
@mfa_login_required
def decision_save(request: HttpRequest, meeting_id: int, item_id: int) -> HttpResponse:
    meeting = _meeting(request, meeting_id)
    item = _item(request, meeting, item_id)
    form = DecisionForm(request.POST, prefix=f"d{item.pk}")
    if not form.is_valid():
        messages.error(request, _("The decision text is required."))
    else:
        _attempt(
            request,
            lambda: followup.record_decision(
                item,
                text=form.cleaned_data["text"],
                outcome=form.cleaned_data["outcome"] or None,
                expected_version=_version(request),
                acting_user=request.user,  # type: ignore[arg-type]
                source_ip=client_ip(request),
            ),
            _("Decision recorded."),
        )
    return redirect("followup:meeting-tasks", meeting_id=meeting.pk)


@require_POST
@mfa_login_required
def task_create(request: HttpRequest, meeting_id: int, item_id: int) -> HttpResponse:
    meeting = _meeting(request, meeting_id)
    item = _item(request, meeting, item_id)
    decision = Decision.objects.filter(item=item).first()
    form = TaskForm(request.POST, user=request.user, prefix=f"t{item.pk}")  # type: ignore[arg-type]
    if decision is None:
        messages.error(request, _("Record the decision before assigning tasks."))
    elif not form.is_valid():
        messages.error(request, _("Check the task: %(errors)s") % {"errors": "; ".join(f"{k}: {' '.join(str(e) for e in v)}" for k, v in form.errors.items())})
    else:
        data = form.cleaned_data
        _attempt(
            request,
            lambda: followup.create_task(
                decision,
                title=data["title"],
                assignee_org=data["assignee_org"],
                assignee=data["assignee"],
                due_date=data["due_date"],
                acting_user=request.user,  # type: ignore[arg-type]
                source_ip=client_ip(request),
            ),
            _("Task assigned."),
        )
    return redirect("followup:meeting-tasks", meeting_id=meeting.pk)


# --- my tasks and one task -----------------------------------------------------------------------


@require_GET
@mfa_login_required
def my_tasks(request: HttpRequest) -> HttpResponse:
    tasks = list(permissions.tasks_assigned_to(request.user).select_related(*TASK_RELATED).order_by("due_date", "pk"))
    if request.GET.get("overdue") == "1":
        tasks = [t for t in tasks if t.overdue]
    overdue_all = None
    if permissions.is_office_secretary(request.user):  # type: ignore[arg-type]
        overdue_all = [t for t in followup.overdue_tasks() if permissions.can_see_task(request.user, t)]
    return render(request, "meetings/tasks_mine.html", {"tasks": tasks, "overdue_all": overdue_all, "only_overdue": request.GET.get("overdue") == "1"})


@require_http_methods(["GET", "POST"])
@mfa_login_required
def task_detail(request: HttpRequest, task_id: int) -> HttpResponse:
    task = _task(request, task_id)
    can_report = permissions.can_report_on_task(request.user, task)
    form = ProgressForm(request.POST or None, initial={"state": task.state})
    if request.method == "POST":
        if not can_report:
            messages.error(request, _("Only the assignee or an office secretary reports progress on this task."))
        elif not form.is_valid():
            messages.error(request, _("Choose a state and write a comment."))
        else:
            _attempt(
                request,
                lambda: followup.update_task_progress(
                    task,
                    state=form.cleaned_data["state"],
                    comment=form.cleaned_data["comment"],
                    expected_version=_version(request),
                    acting_user=request.user,  # type: ignore[arg-type]
                    source_ip=client_ip(request),
                ),
                _("Progress recorded."),
            )
        return redirect("followup:task", task_id=task.pk)
    updates = task.updates.select_related("user")
    return render(request, "meetings/tasks_detail.html", {"task": task, "updates": updates, "form": form if can_report else None})


# --- minutes -------------------------------------------------------------------------------------


def _visible_minutes(request: HttpRequest, meeting: Meeting) -> Minutes | None:
    minutes = Minutes.objects.select_related("meeting", "edited_by", "approved_by").filter(meeting=meeting).first()
    if minutes is not None and permissions.can_see_minutes(request.user, minutes):
        return minutes
    return None


@require_GET
@mfa_login_required
def minutes_page(request: HttpRequest, meeting_id: int) -> HttpResponse:
    meeting = _meeting(request, meeting_id)
    user = request.user
    minutes = _visible_minutes(request, meeting)
    can_write = permissions.can_write_minutes(user, meeting)
    if minutes is None and not can_write:
        raise Http404
    context = {
        "meeting": meeting,
        "minutes": minutes,
        "can_write": can_write and (minutes is None or minutes.state != Minutes.State.APPROVED),
        "can_draft": can_write and meeting.state in followup.MINUTES_STATES and (minutes is None or minutes.state != Minutes.State.APPROVED),
        "can_approve": minutes is not None and minutes.state == Minutes.State.SUBMITTED and permissions.can_approve_minutes(user, meeting),
    }
    return render(request, "meetings/minutes.html", context)


@require_POST
@mfa_login_required
def minutes_draft(request: HttpRequest, meeting_id: int) -> HttpResponse:
    meeting = _meeting(request, meeting_id)
    language = request.POST.get("language", "vi")
    _attempt(
        request,
        lambda: followup.draft_minutes(
            meeting,
            language=language if language in ("vi", "en") else "vi",
            expected_version=_version(request),
            acting_user=request.user,  # type: ignore[arg-type]
            source_ip=client_ip(request),
        ),
        _("The minutes were drafted from the session record."),
    )
    return redirect("followup:minutes", meeting_id=meeting.pk)


def _minutes_step(request: HttpRequest, meeting_id: int, step: Callable[[Minutes], Any], success: str) -> HttpResponse:
    meeting = _meeting(request, meeting_id)
    minutes = _visible_minutes(request, meeting)
    if minutes is None:
        raise Http404
    _attempt(request, lambda: step(minutes), success)
    return redirect("followup:minutes", meeting_id=meeting.pk)


@require_POST
@mfa_login_required
def minutes_edit(request: HttpRequest, meeting_id: int) -> HttpResponse:
    text = request.POST.get("text", "")
    return _minutes_step(
        request,
        meeting_id,
        lambda m: followup.edit_minutes(m, text=text, expected_version=_version(request), acting_user=request.user, source_ip=client_ip(request)),  # type: ignore[arg-type]
        _("The minutes were saved."),
    )


@require_POST
@mfa_login_required
def minutes_submit(request: HttpRequest, meeting_id: int) -> HttpResponse:
    return _minutes_step(
        request,
        meeting_id,
        lambda m: followup.submit_minutes(m, expected_version=_version(request), acting_user=request.user, source_ip=client_ip(request)),  # type: ignore[arg-type]
        _("The minutes were submitted to the chair."),
    )


@require_POST
@mfa_login_required
def minutes_approve(request: HttpRequest, meeting_id: int) -> HttpResponse:
    return _minutes_step(
        request,
        meeting_id,
        lambda m: followup.approve_minutes(m, expected_version=_version(request), acting_user=request.user, source_ip=client_ip(request)),  # type: ignore[arg-type]
        _("The minutes are approved."),
    )


@require_GET
@mfa_login_required
def minutes_pdf(request: HttpRequest, meeting_id: int) -> HttpResponse:
    meeting = _meeting(request, meeting_id)
    minutes = _visible_minutes(request, meeting)
    if minutes is None:
        raise Http404
    content = followup.export_minutes_pdf(minutes, acting_user=request.user, source_ip=client_ip(request))  # type: ignore[arg-type]
    return pdf_response(content, meeting, minutes)


# --- the efficiency report -----------------------------------------------------------------------


@require_GET
@mfa_login_required
def report_page(request: HttpRequest, meeting_id: int) -> HttpResponse:
    meeting = _meeting(request, meeting_id)
    user = request.user
    if not permissions.can_see_report(user, meeting):
        raise Http404
    figures = report.meeting_report(user, meeting)
    summary, closed = report.organisation_report(user, meeting.organisation)
    can_set = permissions.can_set_baseline(user, meeting.organisation)
    context = {
        "meeting": meeting,
        "figures": figures,
        "summary": summary,
        "closed": closed,
        "baseline_form": BaselineForm(initial={"baseline_meeting_minutes": figures.baseline_minutes}) if can_set else None,
    }
    return render(request, "meetings/report.html", context)


@require_POST
@mfa_login_required
def baseline_save(request: HttpRequest, meeting_id: int) -> HttpResponse:
    meeting = _meeting(request, meeting_id)
    form = BaselineForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("The baseline must be a number of minutes between 1 and 1440."))
    else:
        _attempt(
            request,
            lambda: followup.set_baseline(
                meeting.organisation,
                minutes=form.cleaned_data["baseline_meeting_minutes"],
                acting_user=request.user,  # type: ignore[arg-type]
                source_ip=client_ip(request),
            ),
            _("Baseline saved."),
        )
    return redirect("followup:report", meeting_id=meeting.pk)
