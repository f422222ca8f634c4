"""Tablet pages for meetings: list, detail with the agenda, proposals, positions, calendar.

The live session page (``live_views``) and the minutes pages (``followup_views``) live apart.
Pages call the same actions as the API; an action's refusal becomes a message on the page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ecabinet import errors as base_errors
from ecabinet.identity.models import Clearance, Organisation, Role, User
from ecabinet.meetings import actions, api, permissions, queries
from ecabinet.meetings.models import AgendaItem, CalendarFeed, Meeting, Participant, Position
from ecabinet.web.net import client_ip
from ecabinet.web.views import mfa_login_required, signed_in_user

TRANSITION_LABELS = {
    "schedule": gettext_lazy("Schedule"),
    "publish": gettext_lazy("Publish the dossier"),
    "open": gettext_lazy("Open the session"),
    "adjourn": gettext_lazy("Adjourn"),
    "resume": gettext_lazy("Resume"),
    "close": gettext_lazy("Close the meeting"),
    "cancel": gettext_lazy("Cancel the meeting"),
}
SESSION_TRANSITIONS = ("open", "adjourn", "resume", "close")


def _meeting(request: HttpRequest, meeting_id: int) -> Meeting:
    meeting = Meeting.objects.select_related("organisation", "chair").filter(pk=meeting_id).first()
    if meeting is None or not permissions.can_see_meeting(request.user, meeting):
        raise Http404
    return meeting


def _item(request: HttpRequest, item_id: int) -> AgendaItem:
    item = AgendaItem.objects.select_related("meeting__organisation", "meeting__chair", "presenter", "proposed_by").filter(pk=item_id).first()
    if item is None or not permissions.can_see_item(request.user, item):
        raise Http404
    return item


def _attempt(request: HttpRequest, action: Callable[[], Any], success: str) -> bool:
    """Run an action; a refusal becomes an error message (a hidden object stays a 404)."""
    try:
        action()
    except base_errors.NotFound:
        raise Http404 from None
    except base_errors.ECabinetError as exc:
        messages.error(request, exc.detail)
        return False
    messages.success(request, success)
    return True


def _government_people(user: User) -> Any:
    gov = user.organisation.government  # type: ignore[union-attr]
    return (
        User.objects.filter(is_active=True)
        .select_related("organisation")
        .filter(organisation__in=Organisation.objects.filter(pk=gov.pk) | Organisation.objects.filter(parent=gov))
    )


LEVEL_CHOICES = [(c.value, c.label) for c in Clearance]


class MeetingForm(forms.Form):
    title = forms.CharField(label=gettext_lazy("Title"), max_length=300)
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=Meeting.Kind.choices)
    starts_at = forms.DateTimeField(label=gettext_lazy("Starts at"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    planned_end = forms.DateTimeField(label=gettext_lazy("Planned end"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    place = forms.CharField(label=gettext_lazy("Place"), max_length=200, required=False)
    online_link = forms.URLField(label=gettext_lazy("Online link"), required=False, assume_scheme="https")
    chair = forms.ModelChoiceField(label=gettext_lazy("Chair"), queryset=User.objects.none())
    classification = forms.TypedChoiceField(label=gettext_lazy("Classification"), choices=LEVEL_CHOICES, coerce=int, initial=Clearance.INTERNAL)
    positions_deadline = forms.DateTimeField(
        label=gettext_lazy("Positions deadline"), required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    positions_visibility = forms.ChoiceField(label=gettext_lazy("Who sees positions"), choices=Meeting.PositionsVisibility.choices)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["chair"].queryset = _government_people(user).filter(role__in=[Role.CHAIR, Role.MEMBER])  # type: ignore[attr-defined]


class ItemForm(forms.Form):
    title = forms.CharField(label=gettext_lazy("Title"), max_length=400)
    summary = forms.CharField(label=gettext_lazy("Summary"), widget=forms.Textarea(attrs={"rows": 4}), required=False)
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=AgendaItem.Kind.choices, initial=AgendaItem.Kind.DECISION)
    planned_minutes = forms.IntegerField(label=gettext_lazy("Planned minutes"), min_value=1, max_value=600, initial=15)
    classification = forms.TypedChoiceField(label=gettext_lazy("Classification"), choices=LEVEL_CHOICES, coerce=int, initial=Clearance.INTERNAL)
    presenter = forms.ModelChoiceField(label=gettext_lazy("Presenter"), queryset=User.objects.none(), required=False)
    document_refs = forms.CharField(
        label=gettext_lazy("Document references"),
        help_text=gettext_lazy("One per line"),
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["presenter"].queryset = _government_people(user).exclude(role=Role.GUEST)  # type: ignore[attr-defined]

    def clean_document_refs(self) -> list[str]:
        lines = [line.strip() for line in self.cleaned_data["document_refs"].splitlines()]
        return [line for line in lines if line]


@require_GET
@mfa_login_required
def meeting_list(request: HttpRequest) -> HttpResponse:
    meetings = permissions.visible_meetings(request.user).select_related("chair")[:200]
    return render(request, "meetings/list.html", {"meetings": meetings, "can_create": permissions.can_create_meeting(request.user)})


@require_http_methods(["GET", "POST"])
@mfa_login_required
def meeting_new(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    if not permissions.can_create_meeting(user):
        raise Http404
    form = MeetingForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            meeting = actions.create_meeting(
                acting_user=user,
                title=data["title"],
                kind=data["kind"],
                starts_at=data["starts_at"],
                planned_end=data["planned_end"],
                place=data["place"],
                online_link=data["online_link"],
                chair=data["chair"],
                classification=data["classification"],
                positions_deadline=data["positions_deadline"],
                positions_visibility=data["positions_visibility"],
                source_ip=client_ip(request),
            )
        except base_errors.ECabinetError as exc:
            form.add_error(exc.extra.get("field", "").removesuffix("_id") or None, exc.detail)
        else:
            messages.success(request, _("Meeting created."))
            return redirect("meetings:detail", meeting.pk)
    return render(request, "meetings/form.html", {"form": form, "heading": _("New meeting")}, status=400 if form.errors else 200)


@require_GET
@mfa_login_required
def meeting_detail(request: HttpRequest, meeting_id: int) -> HttpResponse:
    user = signed_in_user(request)
    meeting = _meeting(request, meeting_id)
    visible = permissions.visible_items(user, meeting)
    can_manage = permissions.can_manage_meeting(user, meeting)
    transitions = []
    if can_manage:
        for name, (sources, _target) in actions.TRANSITIONS.items():
            if meeting.state in sources:
                transitions.append({"name": name, "label": TRANSITION_LABELS[name], "danger": name == "cancel"})
    agenda = [i for i in visible if i.status == AgendaItem.Status.ACCEPTED]
    context = {
        "meeting": meeting,
        "agenda": agenda,
        "proposals": [i for i in visible if i.status != AgendaItem.Status.ACCEPTED],
        "participants": meeting.participants.select_related("user").order_by("kind", "user__full_name"),
        "can_manage": can_manage,
        "can_reorder": can_manage and meeting.state not in actions.FINISHED and len(agenda) > 1,
        "can_propose": permissions.can_propose_item(user, meeting) and meeting.state in actions.PREPARING,
        "can_record": any(permissions.can_record_position(user, i) for i in agenda),
        "can_see_missing": permissions.can_see_missing_positions(user, meeting),
        "transitions": transitions,
        "consent_items": [i for i in agenda if i.in_consent_block],
        "can_propose_consent": permissions.can_review_item(user, meeting)
        and meeting.state == Meeting.State.DOSSIER_PUBLISHED
        and meeting.consent_confirmed_at is None,
        "can_confirm_consent": permissions.can_run_session(user, meeting)
        and meeting.state == Meeting.State.IN_SESSION
        and meeting.consent_proposed_at is not None
        and meeting.consent_confirmed_at is None,
        "can_edit_consent": permissions.can_run_session(user, meeting) and meeting.consent_confirmed_at is None and meeting.state not in actions.FINISHED,
        "reorder_url": reverse("api:meetings_reorder", args=[meeting.pk]) if can_manage else "",
        "invitable": _invitable(user, meeting) if can_manage and meeting.state not in actions.FINISHED else [],
        "participant_kinds": Participant.Kind.choices,
        "session_started": meeting.state in (Meeting.State.IN_SESSION, Meeting.State.ADJOURNED, Meeting.State.CLOSED),
    }
    return render(request, "meetings/detail.html", context)


def _invitable(user: User, meeting: Meeting) -> list[User]:
    """People of the government not yet taking part, cleared for the meeting: the invite choices."""
    taken = meeting.participants.values_list("user_id", flat=True)
    return list(_government_people(user).filter(clearance__gte=meeting.classification).exclude(pk__in=taken).order_by("full_name"))


@require_POST
@mfa_login_required
def participant_add(request: HttpRequest, meeting_id: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    meeting = _meeting(request, meeting_id)
    if not permissions.can_manage_meeting(user, meeting):
        raise Http404
    invited = _government_people(user).filter(pk=request.POST.get("user") or 0).first()
    if invited is None:
        messages.error(request, _("Choose someone to invite."))
        return redirect("meetings:detail", meeting.pk)
    kind = request.POST.get("kind") or None
    if kind is not None and kind not in Participant.Kind.values:
        return HttpResponse(status=400)
    _attempt(
        request,
        lambda: actions.add_participant(meeting, user=invited, kind=kind, acting_user=user, source_ip=client_ip(request)),
        _("Participant invited."),
    )
    return redirect(reverse("meetings:detail", args=[meeting.pk]) + "#participants")


@require_POST
@mfa_login_required
def meeting_transition(request: HttpRequest, meeting_id: int, action: str) -> HttpResponse:
    meeting = _meeting(request, meeting_id)
    if action not in actions.TRANSITIONS:
        raise Http404
    version = request.POST.get("version")

    def run() -> None:
        actions.transition(
            meeting, action, acting_user=signed_in_user(request), version=int(version) if version and version.isdigit() else None, source_ip=client_ip(request)
        )

    _attempt(request, run, _("Done: %(action)s.") % {"action": TRANSITION_LABELS[action]})
    return redirect("meetings:detail", meeting.pk)


@require_http_methods(["GET", "POST"])
@mfa_login_required
def item_propose(request: HttpRequest, meeting_id: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    meeting = _meeting(request, meeting_id)
    if not permissions.can_propose_item(user, meeting):
        raise Http404
    form = ItemForm(request.POST or None, user=user, initial={"classification": meeting.classification})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            item = actions.propose_item(
                meeting,
                acting_user=user,
                title=data["title"],
                summary=data["summary"],
                kind=data["kind"],
                planned_minutes=data["planned_minutes"],
                classification=data["classification"],
                presenter=data["presenter"],
                document_refs=data["document_refs"],
                source_ip=client_ip(request),
            )
        except base_errors.ECabinetError as exc:
            form.add_error(None, exc.detail)
        else:
            messages.success(request, _("Item proposed; the government office will review it."))
            return redirect("meetings:item", item.pk)
    return render(request, "meetings/form.html", {"form": form, "heading": _("Propose an agenda item"), "meeting": meeting}, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@mfa_login_required
def item_detail(request: HttpRequest, item_id: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    item = _item(request, item_id)
    meeting = item.meeting
    can_edit = permissions.can_edit_item(user, item) and meeting.state not in actions.FINISHED
    initial = {
        "title": item.title,
        "summary": item.summary,
        "kind": item.kind,
        "planned_minutes": item.planned_minutes,
        "classification": item.classification,
        "presenter": item.presenter_id,
        "document_refs": "\n".join(item.document_refs),
    }
    form = ItemForm(request.POST if request.method == "POST" else None, user=user, initial=initial) if can_edit else None
    if request.method == "POST":
        op = request.POST.get("op", "edit")
        version = request.POST.get("version")
        version_n = int(version) if version and version.isdigit() else None
        if op == "edit" and form is not None:
            if form.is_valid():
                changes = {k: form.cleaned_data[k] for k in ("title", "summary", "kind", "planned_minutes", "classification", "presenter", "document_refs")}
                if _attempt(request, lambda: actions.update_item(item, acting_user=user, version=version_n, changes=changes), _("Item saved.")):
                    return redirect("meetings:item", item.pk)
        elif op in ("accept", "return", "reject"):
            comment = request.POST.get("comment", "")
            _attempt(request, lambda: actions.review_item(item, acting_user=user, decision=op, comment=comment, version=version_n), _("Review recorded."))
            return redirect("meetings:item", item.pk)
        elif op == "resubmit":
            _attempt(request, lambda: actions.resubmit_item(item, acting_user=user, version=version_n), _("Item re-submitted for review."))
            return redirect("meetings:item", item.pk)
        elif op == "withdraw":
            _attempt(request, lambda: actions.withdraw_item(item, acting_user=user), _("Item withdrawn."))
            return redirect("meetings:item", item.pk)
        else:
            return HttpResponse(status=400)
    context = {
        "item": item,
        "meeting": meeting,
        "form": form,
        "can_review": permissions.can_review_item(user, meeting) and item.status == AgendaItem.Status.PROPOSED and meeting.state in actions.PREPARING,
        "can_resubmit": item.proposed_by_id == user.pk and item.status == AgendaItem.Status.RETURNED,
        "can_withdraw": permissions.can_withdraw_item(user, item)
        and item.status not in (AgendaItem.Status.REJECTED, AgendaItem.Status.WITHDRAWN)
        and meeting.state in actions.PREPARING,
        "guests": item.guests.select_related("user"),
    }
    return render(request, "meetings/item.html", context, status=400 if form is not None and form.errors else 200)


@require_http_methods(["GET", "POST"])
@mfa_login_required
def positions_page(request: HttpRequest, meeting_id: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    meeting = _meeting(request, meeting_id)
    items = [i for i in queries.position_items(user, meeting) if permissions.can_record_position(user, i)]
    if not items and not permissions.can_see_all_positions(user, meeting):
        raise Http404
    if request.method == "POST":
        item = next((i for i in items if str(i.pk) == request.POST.get("item")), None)
        if item is None:
            raise Http404
        stance, comment = request.POST.get("stance", ""), request.POST.get("comment", "")
        _attempt(
            request,
            lambda: actions.record_position(item, acting_user=user, stance=stance, comment=comment, source_ip=client_ip(request)),
            _("Position recorded."),
        )
        return redirect(reverse("meetings:positions", args=[meeting.pk]) + f"#item-{item.pk}")
    mine = {p.item_id: p for p in Position.objects.filter(user=user, item__in=items)}
    rows = [{"item": i, "mine": mine.get(i.pk), "others": [p for p in queries.visible_positions(user, i) if p.user_id != user.pk]} for i in items]
    return render(
        request,
        "meetings/positions.html",
        {"meeting": meeting, "rows": rows, "stances": Position.Stance.choices, "open": _positions_open(meeting)},
    )


def _positions_open(meeting: Meeting) -> bool:
    from django.utils import timezone

    if meeting.state not in actions.POSITION_STATES:
        return False
    return meeting.positions_deadline is None or timezone.now() < meeting.positions_deadline


@require_GET
@mfa_login_required
def positions_missing(request: HttpRequest, meeting_id: int) -> HttpResponse:
    meeting = _meeting(request, meeting_id)
    if not permissions.can_see_missing_positions(request.user, meeting):
        raise Http404
    rows = [
        {"item": item, "missing": missing, "expected": expected, "answered": expected - len(missing)}
        for item, missing, expected in queries.missing_positions(meeting, queries.position_items(request.user, meeting))
    ]
    return render(request, "meetings/missing.html", {"meeting": meeting, "rows": rows})


@require_POST
@mfa_login_required
def consent_action(request: HttpRequest, meeting_id: int, op: str) -> HttpResponse:
    user = signed_in_user(request)
    meeting = _meeting(request, meeting_id)
    if op == "propose":
        _attempt(request, lambda: actions.propose_consent_block(meeting, acting_user=user, source_ip=client_ip(request)), _("Consent block proposed."))
    elif op == "confirm":
        _attempt(request, lambda: actions.confirm_consent_block(meeting, acting_user=user, source_ip=client_ip(request)), _("Consent block adopted."))
    elif op == "remove":
        item = _item(request, int(request.POST.get("item", "0") or 0))
        if item.meeting_id != meeting.pk:
            raise Http404
        _attempt(request, lambda: actions.remove_from_consent_block(item, acting_user=user, source_ip=client_ip(request)), _("Item taken out of the block."))
    else:
        raise Http404
    return redirect("meetings:detail", meeting.pk)


@require_GET
@mfa_login_required
def meeting_ics(request: HttpRequest, meeting_id: int) -> HttpResponse:
    meeting = _meeting(request, meeting_id)
    return api.ics_response(request, [meeting], filename=f"meeting-{meeting.pk}.ics")


@require_http_methods(["GET", "POST"])
@mfa_login_required
def calendar_page(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    new_url = None
    if request.method == "POST":
        if request.POST.get("op") == "revoke":
            feed = CalendarFeed.objects.filter(pk=request.POST.get("feed") or 0, user=user).first()
            if feed is None:
                raise Http404
            _attempt(request, lambda: actions.revoke_calendar_feed(feed, acting_user=user, source_ip=client_ip(request)), _("Feed revoked."))
            return redirect("meetings:calendar")
        _feed, raw = actions.create_calendar_feed(acting_user=user, source_ip=client_ip(request))
        new_url = request.build_absolute_uri(reverse("meetings:calendar-feed", args=[raw]))
    feeds = CalendarFeed.objects.filter(user=user).order_by("-created_at")
    return render(request, "meetings/calendar.html", {"feeds": feeds, "new_url": new_url})


@require_GET
def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    """The secret-URL feed: no session, the token is the credential; unknown or revoked is 404."""
    user = actions.feed_user(token)
    if user is None:
        raise Http404
    return api.ics_response(request, api.feed_meetings(user), filename="ecabinet.ics")
