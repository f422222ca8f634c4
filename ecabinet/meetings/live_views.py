"""The tablet page of the live session: ``meetings/<id>/live/``.

The page is rendered with the current snapshot, then ``meetings/live.js`` keeps it current from
the meeting's WebSocket and calls the JSON API for the buttons.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from ecabinet.meetings import live, permissions
from ecabinet.meetings.models import Meeting
from ecabinet.web.views import mfa_login_required


def _labels() -> dict[str, str]:
    """Every string the script shows, translated here so the page speaks the user's language."""
    return {
        "in_room": _("In the room"),
        "remote": _("Remote"),
        "substitute": _("Substitute"),
        "for": _("for"),
        "waiting": _("Waiting"),
        "speaking": _("Speaking"),
        "done": _("Done"),
        "withdrawn": _("Withdrawn"),
        "start": _("Start"),
        "end": _("End item"),
        "grant": _("Give the floor"),
        "end_floor": _("End the floor"),
        "request": _("Ask to speak"),
        "withdraw": _("Withdraw"),
        "check_in": _("Check in"),
        "check_in_remote": _("Check in (remote)"),
        "check_out": _("Check out"),
        "no_item": _("No item is being discussed."),
        "nobody": _("Nobody has checked in yet."),
        "no_speakers": _("Nobody has asked to speak."),
        "quorum_reached": _("Quorum reached"),
        "quorum_missing": _("No quorum"),
        "present_of": _("%(present)s of %(voting)s voting members present, %(required)s needed"),
        "planned": _("planned"),
        "over": _("over time"),
        "connected": _("Live"),
        "reconnecting": _("Reconnecting…"),
        "gone": _("This meeting is no longer available."),
        "error": _("The action failed"),
        "state_in_session": _("In session"),
        "state_adjourned": _("Adjourned"),
        "state_closed": _("Closed"),
        "state_other": _("Not in session"),
    }


@mfa_login_required
def live_page(request: HttpRequest, meeting_id: int) -> HttpResponse:
    meeting = Meeting.objects.select_related("organisation").filter(pk=meeting_id).first()
    if meeting is None or not permissions.can_see_meeting(request.user, meeting):
        raise Http404
    snap = live.snapshot(meeting, request.user)  # type: ignore[arg-type]
    return render(request, "meetings/live.html", {"meeting": meeting, "snapshot": snap, "labels": _labels()})
