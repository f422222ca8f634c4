"""Tablet pages: the notification centre, preferences, conversations and dossier receipts.

They call the same actions as the API; a refusal becomes a message, a hidden object a 404.
"""

from __future__ import annotations

from datetime import time
from typing import Any, cast

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ecabinet import errors as base_errors
from ecabinet.identity.models import User
from ecabinet.meetings import permissions as mp
from ecabinet.meetings.models import Meeting
from ecabinet.notify import actions, events, permissions
from ecabinet.notify.channels import inapp
from ecabinet.notify.core.selection import DEFAULTS
from ecabinet.notify.models import Channel, Conversation, Message, Notification, Preference
from ecabinet.web.net import client_ip
from ecabinet.web.views import mfa_login_required


def _me(request: HttpRequest) -> User:
    """The signed-in user: the routes here admit no one else."""
    return cast(User, request.user)


@require_GET
@mfa_login_required
def centre(request: HttpRequest) -> HttpResponse:
    qs = Notification.objects.filter(recipient_id=request.user.pk)
    unread_only = request.GET.get("unread") == "1"
    kind = request.GET.get("kind", "")
    if unread_only:
        qs = qs.filter(read_at=None)
    if kind:
        qs = qs.filter(kind__startswith=kind)
    rows = [{"n": n, "label": inapp.label(n.kind)} for n in qs[:200]]
    groups = sorted({k.split(".", 1)[0] for k in events.KINDS})
    unread = Notification.objects.filter(recipient_id=request.user.pk, read_at=None).count()
    return render(request, "notify/centre.html", {"rows": rows, "unread": unread, "unread_only": unread_only, "kind": kind, "groups": groups})


def _own(request: HttpRequest, notification_id: int) -> Notification:
    n = Notification.objects.filter(pk=notification_id).first()
    if n is None or not permissions.can_see_notification(request.user, n):
        raise Http404
    return n


@require_GET
@mfa_login_required
def open_notification(request: HttpRequest, notification_id: int) -> HttpResponse:
    """Following a notification marks it read (the "opened" of read receipts) and goes to its object."""
    n = actions.mark_read(_own(request, notification_id), acting_user=request.user)  # type: ignore[arg-type]
    target = n.url if url_has_allowed_host_and_scheme(n.url, allowed_hosts=None) and n.url.startswith("/") else "/"
    return redirect(target)


@require_POST
@mfa_login_required
def read(request: HttpRequest, notification_id: int) -> HttpResponse:
    actions.mark_read(_own(request, notification_id), acting_user=request.user)  # type: ignore[arg-type]
    return redirect("notify:centre")


@require_POST
@mfa_login_required
def read_all(request: HttpRequest) -> HttpResponse:
    actions.mark_all_read(acting_user=request.user)  # type: ignore[arg-type]
    return redirect("notify:centre")


def _time(value: str) -> time | None:
    try:
        return time.fromisoformat(value) if value else None
    except ValueError:
        raise base_errors.InvalidInput("Times are HH:MM.")


@require_http_methods(["GET", "POST"])
@mfa_login_required
def preferences(request: HttpRequest) -> HttpResponse:
    pref = Preference.objects.filter(user=_me(request)).first()
    if request.method == "POST":
        channels = {kind: [c for c in Channel.values if request.POST.get(f"{kind}:{c}")] for kind in events.KINDS}
        try:
            actions.set_preferences(
                acting_user=request.user,  # type: ignore[arg-type]
                channels=channels,
                quiet_start=_time(request.POST.get("quiet_start", "")),
                quiet_end=_time(request.POST.get("quiet_end", "")),
                digest=bool(request.POST.get("digest")),
                email_titles=bool(request.POST.get("email_titles")),
                sms_number=request.POST.get("sms_number", "").strip(),
            )
        except base_errors.ECabinetError as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(request, "✓")
            return redirect("notify:preferences")
    chosen = (pref.channels if pref else {}) or {}
    rows = []
    for kind in events.KINDS:
        current = set(chosen.get(kind, DEFAULTS.get(kind, ())))
        rows.append({"kind": kind, "label": inapp.label(kind), "channels": [(c, label, c in current) for c, label in Channel.choices if c != Channel.INAPP]})
    return render(request, "notify/preferences.html", {"pref": pref, "rows": rows})


@require_GET
@mfa_login_required
def conversations(request: HttpRequest) -> HttpResponse:
    from ecabinet.notify.api import list_conversations

    return render(request, "notify/conversations.html", {"conversations": list_conversations(request)})


def _conversation(request: HttpRequest, conversation_id: int) -> Conversation:
    conv = Conversation.objects.select_related("meeting").filter(pk=conversation_id).first()
    if conv is None or not permissions.can_see_conversation(request.user, conv):
        raise Http404
    return conv


@require_http_methods(["GET", "POST"])
@mfa_login_required
def conversation(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conv = _conversation(request, conversation_id)
    if request.method == "POST":
        try:
            actions.send_message(conv, acting_user=request.user, text=request.POST.get("text", ""), source_ip=client_ip(request))  # type: ignore[arg-type]
        except base_errors.ECabinetError as exc:
            messages.error(request, exc.detail)
        return redirect("notify:conversation", conversation_id=conv.pk)
    actions.mark_conversation_read(conv, acting_user=request.user)  # type: ignore[arg-type]
    recent = list(Message.objects.filter(conversation=conv).select_related("sender").order_by("-pk")[:100])[::-1]
    views = [actions.message_view(m, request.user) for m in recent]  # type: ignore[arg-type]
    return render(request, "notify/conversation.html", {"conversation": conv, "messages_list": views})


@require_GET
@mfa_login_required
def meeting_chat(request: HttpRequest, meeting_id: int) -> HttpResponse:
    meeting = Meeting.objects.select_related("organisation").filter(pk=meeting_id).first()
    if meeting is None or not mp.can_see_meeting(request.user, meeting):
        raise Http404
    try:
        conv = actions.meeting_conversation(meeting, acting_user=request.user)  # type: ignore[arg-type]
    except base_errors.NotFound:
        raise Http404
    return redirect("notify:conversation", conversation_id=conv.pk)


@require_http_methods(["GET", "POST"])
@mfa_login_required
def receipts(request: HttpRequest, meeting_id: int) -> HttpResponse:
    meeting = Meeting.objects.select_related("organisation").filter(pk=meeting_id).first()
    if meeting is None or not mp.can_see_meeting(request.user, meeting):
        raise Http404
    if not permissions.can_see_receipts(request.user, meeting):
        raise Http404
    if request.method == "POST":
        try:
            sent = actions.nudge_unread(meeting, acting_user=request.user, source_ip=client_ip(request))  # type: ignore[arg-type]
        except base_errors.ECabinetError as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(request, f"✓ {len(sent)}")
        return redirect("notify:receipts", meeting_id=meeting.pk)
    rows = actions.dossier_receipts(meeting)
    context: dict[str, Any] = {
        "meeting": meeting,
        "rows": rows,
        "unread": [r for r in rows if r["kind"] == "member" and r["received_at"] and not r["opened_at"]],
    }
    return render(request, "notify/receipts.html", context)


@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    """The push service worker, served with scope "/" allowed (it lives under /notify/)."""
    from django.contrib.staticfiles import finders

    path = finders.find("notify/sw.js")
    if not path:
        raise Http404
    with open(path, "rb") as handle:
        response = HttpResponse(handle.read(), content_type="text/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = "/"
    response["Cache-Control"] = "no-cache"
    return response
