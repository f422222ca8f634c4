"""Tablet page for secretaries: drop files into a meeting's agenda item (each file goes through
the upload API and the pipeline, and the page shows where each one is). The paper registry of
documents too secret to exist here in electronic form has its pages in ``registry_views``."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.views.decorators.http import require_GET

from ecabinet.documents import actions, permissions
from ecabinet.documents.models import Document, DocumentVersion
from ecabinet.identity.models import Clearance
from ecabinet.meetings import permissions as meeting_permissions
from ecabinet.meetings.models import AgendaItem, Meeting
from ecabinet.web.views import mfa_login_required, signed_in_user


def upload_targets(user: Any, meeting: Meeting) -> tuple[bool, list[AgendaItem]]:
    """(may add to the meeting as a whole, the items the user may add to)."""
    if user.organisation is None or not permissions.can_create_document(user, user.organisation):
        return False, []
    manages = meeting_permissions.can_manage_meeting(user, meeting)
    items = [item for item in meeting_permissions.visible_items_at_once(user, meeting) if manages or meeting_permissions.can_edit_item(user, item)]
    return manages, items


def electronic_levels(user: Any) -> list[tuple[str, str | Promise]]:
    """Levels a file may be uploaded at: up to the electronic limit and the user's clearance."""
    top = min(actions.electronic_limit(user.organisation), user.clearance)
    return [(Clearance(level).key, Clearance(level).label) for level in Clearance.values if level <= top]


@require_GET
@mfa_login_required
def upload_page(request: HttpRequest, meeting_id: int) -> HttpResponse:
    user = signed_in_user(request)
    meeting = Meeting.objects.select_related("organisation").filter(pk=meeting_id).first()
    if meeting is None or not meeting_permissions.can_see_meeting(user, meeting):
        raise Http404()
    whole_meeting, items = upload_targets(user, meeting)
    if not whole_meeting and not items:
        raise Http404()
    chosen = request.GET.get("item", "")
    context = {
        "meeting": meeting,
        "items": items,
        "whole_meeting": whole_meeting,
        "chosen_item": int(chosen) if chosen.isdigit() else (items[0].pk if items and not whole_meeting else None),
        "levels": electronic_levels(user),
        "default_level": Clearance(Clearance.INTERNAL).key,
        "kinds": Document.Kind.choices,
        "states": dict(DocumentVersion.State.choices),
        "limit_label": Clearance(actions.electronic_limit(user.organisation)).label,  # type: ignore[arg-type]
        "messages": {
            "uploading": gettext("Sending"),
            "refused": gettext("Refused"),
            "network": gettext("The connection failed; try this file again."),
            "disarmed": gettext("Disarmed, removed:"),
            "read": gettext("Read"),
            "summary": gettext("Files: %(total)s · ready: %(ready)s · stopped: %(stopped)s · in progress: %(busy)s"),
        },
        "can_keep_registry": permissions.can_keep_registry(user, user.organisation),  # type: ignore[arg-type]
    }
    return render(request, "documents/upload.html", context)
