"""The live session over the JSON API, mounted under ``/api/v1/meetings``.

Each handler finds the meeting or item the caller may see (404 otherwise), calls one action of
``meetings.live`` and answers the new state of the piece it changed. The same changes reach every
connected tablet over ``ws/meetings/<id>/``.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Status

from ecabinet import errors as base_errors
from ecabinet.identity.auth import api_user, session_or_token
from ecabinet.meetings import live, permissions
from ecabinet.meetings.live_schemas import AttendanceOut, CheckInIn, CheckOutIn, ItemTimerOut, SnapshotOut, SpeakerOut
from ecabinet.meetings.models import AgendaItem, Meeting
from ecabinet.web.net import client_ip

router = Router(auth=session_or_token, tags=["live session"])


def _meeting(request: HttpRequest, meeting_id: int) -> Meeting:
    meeting = Meeting.objects.select_related("organisation").filter(pk=meeting_id).first()
    if meeting is None or not permissions.can_see_meeting(api_user(request), meeting):
        raise base_errors.NotFound()
    return meeting


def _item(request: HttpRequest, meeting_id: int, item_id: int) -> AgendaItem:
    item = AgendaItem.objects.select_related("meeting__organisation").filter(pk=item_id, meeting_id=meeting_id).first()
    if item is None or not permissions.can_see_item(api_user(request), item):
        raise base_errors.NotFound()
    return item


@router.get("/{meeting_id}/live", response=SnapshotOut, summary="The live session now: state, running item and timer, attendance, quorum, speakers")
def live_snapshot(request: HttpRequest, meeting_id: int) -> dict[str, Any]:
    return live.snapshot(_meeting(request, meeting_id), api_user(request))


@router.post("/{meeting_id}/items/{item_id}/start", response=ItemTimerOut, summary="Take up an item (ends the running one)")
def start_item(request: HttpRequest, meeting_id: int, item_id: int) -> dict[str, Any]:
    item = live.start_item(_item(request, meeting_id, item_id), acting_user=api_user(request), source_ip=client_ip(request))
    return live.item_out(item)


@router.post("/{meeting_id}/items/{item_id}/end", response=ItemTimerOut, summary="End the running item")
def end_item(request: HttpRequest, meeting_id: int, item_id: int) -> dict[str, Any]:
    item = live.end_item(_item(request, meeting_id, item_id), acting_user=api_user(request), source_ip=client_ip(request))
    return live.item_out(item)


@router.post("/{meeting_id}/attendance/check-in", response=AttendanceOut, summary="Check in oneself, or mark someone present (in the room, remote, substitute)")
def check_in(request: HttpRequest, meeting_id: int, payload: CheckInIn) -> dict[str, Any]:
    meeting = _meeting(request, meeting_id)
    live.check_in(
        meeting,
        acting_user=api_user(request),
        user_id=payload.user_id,
        mode=payload.mode,
        substitute_for_id=payload.substitute_for,
        source_ip=client_ip(request),
    )
    return live.attendance_out(meeting)


@router.post("/{meeting_id}/attendance/check-out", response=AttendanceOut, summary="Check out oneself, or someone (chair or office secretary)")
def check_out(request: HttpRequest, meeting_id: int, payload: CheckOutIn) -> dict[str, Any]:
    meeting = _meeting(request, meeting_id)
    live.check_out(meeting, acting_user=api_user(request), user_id=payload.user_id, source_ip=client_ip(request))
    return live.attendance_out(meeting)


@router.post("/{meeting_id}/items/{item_id}/speakers", response={201: list[SpeakerOut]}, summary="Ask for the floor on an item")
def request_floor(request: HttpRequest, meeting_id: int, item_id: int) -> Status:
    item = _item(request, meeting_id, item_id)
    live.request_floor(item, acting_user=api_user(request), source_ip=client_ip(request))
    return Status(201, live.speakers_out(item))


@router.post("/{meeting_id}/items/{item_id}/speakers/withdraw", response=list[SpeakerOut], summary="Leave an item's speakers' list (or yield the floor)")
def withdraw_floor(request: HttpRequest, meeting_id: int, item_id: int) -> list[dict[str, Any]]:
    item = _item(request, meeting_id, item_id)
    live.withdraw_floor(item, acting_user=api_user(request), source_ip=client_ip(request))
    return live.speakers_out(item)


@router.post("/{meeting_id}/items/{item_id}/speakers/{request_id}/grant", response=list[SpeakerOut], summary="Give the floor (chair or office secretary)")
def grant_floor(request: HttpRequest, meeting_id: int, item_id: int, request_id: int) -> list[dict[str, Any]]:
    item = _item(request, meeting_id, item_id)
    live.grant_floor(item, request_id, acting_user=api_user(request), source_ip=client_ip(request))
    return live.speakers_out(item)


@router.post("/{meeting_id}/items/{item_id}/speakers/{request_id}/end", response=list[SpeakerOut], summary="End a speaker's turn (chair or office secretary)")
def end_floor(request: HttpRequest, meeting_id: int, item_id: int, request_id: int) -> list[dict[str, Any]]:
    item = _item(request, meeting_id, item_id)
    live.end_floor(item, request_id, acting_user=api_user(request), source_ip=client_ip(request))
    return live.speakers_out(item)
