"""Tablet pages of the paper registry: documents above the electronic limit exist only on paper,
and e-Cabinet keeps just their record (number, title, custodian, copies handed out and returned).

The pages decide who may do what with ``documents.permissions`` (the API's rules) and change
things only through ``documents.actions`` (which write the audit entries); a refusal the action
raises is shown on the form, and nothing is stored. Nothing on these pages accepts a file: the
secret text itself is never stored, a request carrying one is refused.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ecabinet import errors as base_errors
from ecabinet.documents import actions, permissions
from ecabinet.documents.models import CopyMovement, RegistryRecord
from ecabinet.identity.models import Clearance, User
from ecabinet.meetings import permissions as meeting_permissions
from ecabinet.meetings.models import AgendaItem, Meeting
from ecabinet.meetings.views import _government_people
from ecabinet.web.net import client_ip
from ecabinet.web.views import mfa_login_required, signed_in_user

NO_FILES = gettext_lazy("Nothing is attached to a registry record: the paper original stays on paper, and only its description is kept here.")


def _refuse_files(request: HttpRequest, form: forms.Form) -> None:
    if request.FILES:
        form.add_error(None, NO_FILES)


def registry_levels(user: User) -> list[tuple[int, Any]]:
    """Levels a record is registered at: above the electronic limit, up to the user's clearance."""
    assert user.organisation is not None
    limit = actions.electronic_limit(user.organisation)
    return [(c.value, c.label) for c in Clearance if limit < c.value <= user.clearance]


class RecordForm(forms.Form):
    number_symbol = forms.CharField(label=gettext_lazy("Number and symbol"), max_length=100, help_text=gettext_lazy("e.g. 01/TM-VPCP"))
    title = forms.CharField(label=gettext_lazy("Title"), max_length=500)
    classification = forms.TypedChoiceField(label=gettext_lazy("Classification"), choices=(), coerce=int)
    custodian = forms.ModelChoiceField(label=gettext_lazy("Custodian"), queryset=User.objects.none())
    copies_total = forms.IntegerField(label=gettext_lazy("Number of paper copies"), min_value=1, max_value=10000, initial=1)
    meeting = forms.ModelChoiceField(label=gettext_lazy("Meeting"), queryset=Meeting.objects.none(), required=False)
    item = forms.ModelChoiceField(label=gettext_lazy("Agenda item"), queryset=AgendaItem.objects.none(), required=False)
    notes = forms.CharField(
        label=gettext_lazy("Handling notes"),
        help_text=gettext_lazy("Where the paper is kept, how it is handled. Never the document's content."),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=5000,
        required=False,
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["classification"].choices = registry_levels(user)  # type: ignore[attr-defined]
        self.fields["custodian"].queryset = _government_people(user).order_by("full_name")  # type: ignore[attr-defined]
        meetings = meeting_permissions.visible_meetings(user).order_by("-starts_at")
        self.fields["meeting"].queryset = meetings  # type: ignore[attr-defined]
        self.fields["item"].queryset = AgendaItem.objects.filter(meeting__in=meetings).select_related("meeting").order_by("-meeting__starts_at", "order")  # type: ignore[attr-defined]
        self.fields["item"].label_from_instance = lambda item: f"{item.meeting.title} · {item.order}. {item.title}"  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        meeting, item = data.get("meeting"), data.get("item")
        # The API's rules (``api._meeting_and_item``): an item the user may see, of that meeting.
        if item is not None and not meeting_permissions.can_see_item(self.user, item):
            self.add_error("item", _("No such agenda item."))
        elif item is not None and meeting is not None and item.meeting_id != meeting.pk:
            self.add_error("item", _("The agenda item belongs to another meeting."))
        elif item is not None:
            data["meeting"] = item.meeting
        return data


class HandOutForm(forms.Form):
    copy_number = forms.TypedChoiceField(label=gettext_lazy("Copy"), choices=(), coerce=int)
    holder = forms.ModelChoiceField(label=gettext_lazy("Handed to"), queryset=User.objects.none())
    note = forms.CharField(label=gettext_lazy("Note"), max_length=500, required=False)

    def __init__(self, *args: Any, user: User, record: RegistryRecord, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        out = record.copies_out()
        self.fields["copy_number"].choices = [(n, str(n)) for n in range(1, record.copies_total + 1) if n not in out]  # type: ignore[attr-defined]
        self.fields["holder"].queryset = _government_people(user).order_by("full_name")  # type: ignore[attr-defined]


class ReturnForm(forms.Form):
    copy_number = forms.IntegerField(min_value=1)
    note = forms.CharField(label=gettext_lazy("Note"), max_length=500, required=False)


# --- rows shown in lists and dossiers --------------------------------------------------------


def _row(user: User, record: RegistryRecord) -> dict[str, Any]:
    item_title = ""
    if record.item is not None and meeting_permissions.can_see_item(user, record.item):
        item_title = f"{record.item.order}. {record.item.title}"
    return {
        "record": record,
        "classification": Clearance(record.classification).label,
        "copies_out": len(record.copies_out()),
        "item": item_title,
        "meeting": record.meeting if record.meeting and meeting_permissions.can_see_meeting(user, record.meeting) else None,
    }


def registry_rows(user: User, meeting: Meeting) -> list[dict[str, Any]]:
    """The meeting's paper-only documents ``user`` may see, as dossier rows: a record linked to an
    agenda item the user may not see is left out, as a document on that item would be."""
    rows = []
    for record in permissions.visible_records(user):
        if record.meeting_id != meeting.pk:
            continue
        if record.item is not None and not meeting_permissions.can_see_item(user, record.item):
            continue
        rows.append(_row(user, record))
    return rows


# --- pages -----------------------------------------------------------------------------------


@require_GET
@mfa_login_required
def registry_page(request: HttpRequest, meeting_id: int | None = None) -> HttpResponse:
    user = signed_in_user(request)
    meeting = None
    if meeting_id is not None:
        meeting = Meeting.objects.filter(pk=meeting_id).first()
        if meeting is None or not meeting_permissions.can_see_meeting(user, meeting):
            raise Http404()
    records = [r for r in permissions.visible_records(user) if meeting is None or r.meeting_id == meeting.pk]
    context = {
        "meeting": meeting,
        "rows": [_row(user, r) for r in records],
        "can_create": user.organisation is not None and bool(registry_levels(user)) and permissions.can_keep_registry(user, user.organisation),
    }
    return render(request, "documents/registry.html", context)


@require_http_methods(["GET", "POST"])
@mfa_login_required
def registry_new(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    organisation = user.organisation
    # As ``POST /registry``: a secretary cleared for secret keeps the registry; others get 403.
    if organisation is None or not permissions.can_keep_registry(user, organisation):
        raise PermissionDenied(_("Only a secretary cleared for this level keeps the registry."))
    initial: dict[str, Any] = {"custodian": user.pk}
    if request.GET.get("meeting", "").isdigit():
        initial["meeting"] = int(request.GET["meeting"])
    form = RecordForm(request.POST or None, user=user, initial=initial)
    if request.method == "POST":
        _refuse_files(request, form)
        if form.is_valid():
            data = form.cleaned_data
            if not permissions.can_keep_registry(user, organisation, data["classification"]):
                raise PermissionDenied(_("Only a secretary cleared for this level keeps the registry."))
            try:
                rec = actions.create_registry_record(
                    acting_user=user,
                    organisation=organisation,
                    number_symbol=data["number_symbol"],
                    title=data["title"],
                    classification=data["classification"],
                    custodian=data["custodian"],
                    copies_total=data["copies_total"],
                    meeting=data["meeting"],
                    item=data["item"],
                    notes=data["notes"],
                    source_ip=client_ip(request),
                )
            except base_errors.ECabinetError as exc:
                form.add_error(None, exc.detail)
            else:
                messages.success(request, _("Registry record created."))
                return redirect("documents:registry-detail", rec.pk)
    return render(request, "documents/registry_form.html", {"form": form}, status=400 if form.errors else 200)


def _visible_record(request: HttpRequest, record_id: int) -> tuple[User, RegistryRecord]:
    user = signed_in_user(request)
    rec = RegistryRecord.objects.select_related("organisation", "custodian", "meeting", "item__meeting").filter(pk=record_id).first()
    if rec is None or not permissions.can_see_record(user, rec):
        raise Http404()
    return user, rec


def _detail(request: HttpRequest, user: User, rec: RegistryRecord, *, hand_out: HandOutForm | None = None, errors: list[str] | None = None) -> HttpResponse:
    keeper = permissions.can_keep_registry(user, rec.organisation, rec.classification)
    out = rec.copies_out()
    context = {
        "row": _row(user, rec),
        "record": rec,
        "keeper": keeper,
        "open": rec.closed_at is None,
        "movements": rec.movements.select_related("holder", "recorded_by").order_by("-at", "-pk"),
        "out": [out[n] for n in sorted(out)],
        "hand_out": hand_out or (HandOutForm(user=user, record=rec) if keeper else None),
        "errors": errors or [],
    }
    return render(request, "documents/registry_detail.html", context, status=400 if (errors or (hand_out is not None and hand_out.errors)) else 200)


@require_GET
@mfa_login_required
def registry_detail(request: HttpRequest, record_id: int) -> HttpResponse:
    user, rec = _visible_record(request, record_id)
    return _detail(request, user, rec)


@require_POST
@mfa_login_required
def registry_movement(request: HttpRequest, record_id: int) -> HttpResponse:
    """A copy handed out (form ``hand_out``) or returned (form ``return``), as ``POST /registry/{id}/movements``."""
    user, rec = _visible_record(request, record_id)
    if not permissions.can_keep_registry(user, rec.organisation, rec.classification):
        raise PermissionDenied(_("Only a secretary cleared for this level keeps the registry."))
    if request.FILES:
        return _detail(request, user, rec, errors=[str(NO_FILES)])
    ip = client_ip(request)
    if request.POST.get("kind") == CopyMovement.Kind.RETURNED:
        form: forms.Form = ReturnForm(request.POST)
        if not form.is_valid():
            return _detail(request, user, rec, errors=[_("Choose a copy that is handed out.")])
        number = form.cleaned_data["copy_number"]
        move = rec.copies_out().get(number)
        if move is None:
            return _detail(request, user, rec, errors=[_("Copy %(number)s is not handed out.") % {"number": number}])
        try:
            actions.record_copy_movement(
                rec, kind=CopyMovement.Kind.RETURNED, copy_number=number, holder=move.holder, acting_user=user, note=form.cleaned_data["note"], source_ip=ip
            )
        except base_errors.ECabinetError as exc:
            return _detail(request, user, rec, errors=[exc.detail])
        messages.success(request, _("Copy %(number)s returned by %(holder)s.") % {"number": number, "holder": move.holder.display_name})
        return redirect("documents:registry-detail", rec.pk)
    if request.POST.get("kind") != CopyMovement.Kind.HANDED_OUT:
        return _detail(request, user, rec, errors=[_("Say whether the copy is handed out or returned.")])
    hand_out = HandOutForm(request.POST, user=user, record=rec)
    if not hand_out.is_valid():
        return _detail(request, user, rec, hand_out=hand_out)
    data = hand_out.cleaned_data
    try:
        actions.record_copy_movement(
            rec, kind=CopyMovement.Kind.HANDED_OUT, copy_number=data["copy_number"], holder=data["holder"], acting_user=user, note=data["note"], source_ip=ip
        )
    except base_errors.ECabinetError as exc:
        return _detail(request, user, rec, errors=[exc.detail])
    messages.success(request, _("Copy %(number)s handed to %(holder)s.") % {"number": data["copy_number"], "holder": data["holder"].display_name})
    return redirect("documents:registry-detail", rec.pk)
