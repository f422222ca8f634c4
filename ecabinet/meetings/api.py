"""Meetings endpoints: lifecycle, participants, agenda and proposals, positions, consent, calendar.

Handlers parse, look the object up through ``permissions`` (anything the caller may not see is a
404), call an action and serialise. Editable objects answer with an ``ETag: W/"<version>"`` and a
``version`` field; writes name the version they edited in ``If-Match`` or a ``version`` field.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from ninja import Router, Status

from ecabinet import errors as base_errors
from ecabinet.identity.auth import api_user, session_or_token
from ecabinet.identity.models import Clearance, Organisation, User
from ecabinet.meetings import actions, errors, ics, permissions, queries
from ecabinet.meetings.models import AgendaItem, CalendarFeed, Meeting, Participant
from ecabinet.meetings.schemas import (
    ConsentOut,
    FeedCreatedOut,
    FeedOut,
    GuestIn,
    ItemIn,
    ItemOut,
    ItemPatch,
    ItemPositionsOut,
    MeetingDetailOut,
    MeetingIn,
    MeetingOut,
    MeetingPatch,
    MissingItemOut,
    ParticipantIn,
    ParticipantOut,
    PositionIn,
    PositionOut,
    ReorderIn,
    ReviewIn,
    VersionIn,
)
from ecabinet.web.net import client_ip

router = Router(auth=session_or_token, tags=["meetings"])
_IF_MATCH = re.compile(r'^\s*(?:W/)?"(\d+)"\s*$')


# --- serialisation ---------------------------------------------------------------------------


def person_out(user: User) -> dict[str, Any]:
    return {"id": user.pk, "full_name": user.display_name, "title": user.title, "role": user.role}


def meeting_out(meeting: Meeting) -> dict[str, Any]:
    fields = (
        "id",
        "organisation_id",
        "kind",
        "title",
        "starts_at",
        "planned_end",
        "place",
        "online_link",
        "state",
        "positions_deadline",
        "positions_visibility",
        "allow_substitutes",
        "version",
        "dossier_published_at",
        "consent_proposed_at",
        "consent_confirmed_at",
        "opened_at",
        "adjourned_at",
        "closed_at",
        "cancelled_at",
    )
    body = {name: getattr(meeting, name) for name in fields}
    body["chair"] = person_out(meeting.chair)
    body["classification"] = Clearance(meeting.classification).key
    return body


def item_out(item: AgendaItem) -> dict[str, Any]:
    fields = (
        "id",
        "meeting_id",
        "order",
        "title",
        "summary",
        "presenting_org_id",
        "planned_minutes",
        "kind",
        "status",
        "outcome",
        "document_refs",
        "proposed_at",
        "review_comment",
        "in_consent_block",
        "started_at",
        "ended_at",
        "version",
    )
    body = {name: getattr(item, name) for name in fields}
    body["presenter"] = person_out(item.presenter) if item.presenter else None
    body["proposed_by"] = person_out(item.proposed_by)
    body["classification"] = Clearance(item.classification).key
    body["guests"] = [person_out(g.user) for g in item.guests.select_related("user")]
    return body


def detail_out(user: User, meeting: Meeting) -> dict[str, Any]:
    body = meeting_out(meeting)
    parts = Participant.objects.filter(meeting=meeting).select_related("user").order_by("kind", "user__full_name")
    body["participants"] = [{"user": person_out(p.user), "kind": p.kind} for p in parts]
    body["items"] = [item_out(item) for item in permissions.visible_items(user, meeting)]
    body["can_manage"] = permissions.can_manage_meeting(user, meeting)
    return body


def _etag(response: HttpResponse, obj: Meeting | AgendaItem) -> None:
    response["ETag"] = f'W/"{obj.version}"'


# --- lookups ---------------------------------------------------------------------------------


def _meeting(request: HttpRequest, meeting_id: int) -> Meeting:
    meeting = Meeting.objects.select_related("organisation", "chair").filter(pk=meeting_id).first()
    if meeting is None or not permissions.can_see_meeting(api_user(request), meeting):
        raise base_errors.NotFound()
    return meeting


def _item(request: HttpRequest, item_id: int) -> AgendaItem:
    item = AgendaItem.objects.select_related("meeting__organisation", "meeting__chair", "presenter", "proposed_by").filter(pk=item_id).first()
    if item is None or not permissions.can_see_item(api_user(request), item):
        raise base_errors.NotFound()
    return item


def _government_user(request: HttpRequest, user_id: int | None, *, field: str) -> User | None:
    if user_id is None:
        return None
    me = api_user(request)
    other = User.objects.select_related("organisation").filter(pk=user_id).first()
    if other is None or other.organisation is None or other.organisation.government.pk != me.organisation.government.pk:  # type: ignore[union-attr]
        raise errors.InvalidMeetingData("No such person in your government.", field=field)
    return other


def _government_org(request: HttpRequest, org_id: int | None) -> Organisation | None:
    if org_id is None:
        return None
    org = Organisation.objects.filter(pk=org_id).first()
    if org is None or org.government.pk != api_user(request).organisation.government.pk:  # type: ignore[union-attr]
        raise errors.InvalidMeetingData("No such organisation in your government.", field="presenting_org_id")
    return org


def _version(request: HttpRequest, body_version: int | None) -> int | None:
    """The version the client edited: the body's ``version`` field, else the If-Match header."""
    header = request.headers.get("If-Match")
    header_version = None
    if header:
        match = _IF_MATCH.match(header)
        if match is None:
            raise base_errors.InvalidInput('If-Match must be an entity tag such as W/"3".')
        header_version = int(match.group(1))
    if body_version is not None and header_version is not None and body_version != header_version:
        raise base_errors.InvalidInput("If-Match and the version field disagree.")
    return body_version if body_version is not None else header_version


def _level(name: str | None) -> int | None:
    return None if name is None else int(Clearance.from_name(name))


# --- meetings --------------------------------------------------------------------------------


@router.get("/meetings", response=list[MeetingOut], summary="Meetings the caller may see, newest first")
def list_meetings(request: HttpRequest, state: str | None = None) -> list[dict[str, Any]]:
    found = permissions.visible_meetings(api_user(request)).select_related("chair")
    if state:
        found = found.filter(state=state)
    return [meeting_out(m) for m in found[:500]]


@router.post("/meetings", response={201: MeetingDetailOut}, summary="Create a draft meeting (office secretaries)")
def create_meeting(request: HttpRequest, payload: MeetingIn, response: HttpResponse) -> Status[dict[str, Any]]:
    me = api_user(request)
    if not permissions.can_create_meeting(me):
        raise base_errors.Forbidden("Only a secretary of the government office can create meetings.")
    chair = _government_user(request, payload.chair_id, field="chair_id")
    meeting = actions.create_meeting(
        acting_user=me,
        title=payload.title,
        starts_at=payload.starts_at,
        planned_end=payload.planned_end,
        chair=chair,  # type: ignore[arg-type]
        kind=payload.kind,
        place=payload.place,
        online_link=payload.online_link,
        classification=_level(payload.classification),
        positions_deadline=payload.positions_deadline,
        positions_visibility=payload.positions_visibility,
        allow_substitutes=payload.allow_substitutes,
        source_ip=client_ip(request),
    )
    _etag(response, meeting)
    return Status(201, detail_out(me, meeting))


@router.get("/meetings/{meeting_id}", response=MeetingDetailOut, summary="A meeting with its participants and agenda; ETag = version")
def get_meeting(request: HttpRequest, meeting_id: int, response: HttpResponse) -> dict[str, Any]:
    meeting = _meeting(request, meeting_id)
    _etag(response, meeting)
    return detail_out(api_user(request), meeting)


@router.patch("/meetings/{meeting_id}", response=MeetingDetailOut, summary="Change a meeting; needs If-Match or version")
def patch_meeting(request: HttpRequest, meeting_id: int, payload: MeetingPatch, response: HttpResponse) -> dict[str, Any]:
    meeting = _meeting(request, meeting_id)
    changes = payload.dict(exclude_unset=True)
    version = _version(request, changes.pop("version", None))
    if "classification" in changes:
        changes["classification"] = _level(changes["classification"])
    for name in ("title", "starts_at", "planned_end", "kind", "place", "online_link", "positions_visibility", "allow_substitutes", "classification"):
        if name in changes and changes[name] is None:
            raise errors.InvalidMeetingData(f"{name} cannot be empty.", field=name)
    actions.update_meeting(meeting, acting_user=api_user(request), version=version, changes=changes, source_ip=client_ip(request))
    _etag(response, meeting)
    return detail_out(api_user(request), meeting)


def _transition_endpoint(action: str, summary: str) -> None:
    def handler(request: HttpRequest, meeting_id: int, response: HttpResponse, payload: VersionIn | None = None) -> dict[str, Any]:
        meeting = _meeting(request, meeting_id)
        version = _version(request, payload.version if payload else None)
        actions.transition(meeting, action, acting_user=api_user(request), version=version, source_ip=client_ip(request))
        _etag(response, meeting)
        return detail_out(api_user(request), meeting)

    handler.__name__ = f"{action}_meeting"
    router.post(f"/meetings/{{meeting_id}}/{action}", response=MeetingDetailOut, summary=summary, operation_id=f"meetings_{action}")(handler)


for _action, _summary in (
    ("schedule", "draft → scheduled"),
    ("publish", "scheduled → dossier_published (needs an accepted item; queues the consent proposal at the deadline)"),
    ("open", "dossier_published → in_session"),
    ("adjourn", "in_session → adjourned"),
    ("resume", "adjourned → in_session"),
    ("close", "in_session or adjourned → closed"),
    ("cancel", "draft, scheduled or dossier_published → cancelled"),
):
    _transition_endpoint(_action, _summary)


@router.get("/meetings/{meeting_id}/participants", response=list[ParticipantOut])
def list_participants(request: HttpRequest, meeting_id: int) -> list[dict[str, Any]]:
    return detail_out(api_user(request), _meeting(request, meeting_id))["participants"]  # type: ignore[no-any-return]


@router.post("/meetings/{meeting_id}/participants", response={201: ParticipantOut}, summary="Invite someone to the whole meeting")
def add_participant(request: HttpRequest, meeting_id: int, payload: ParticipantIn) -> Status[dict[str, Any]]:
    meeting = _meeting(request, meeting_id)
    user = _government_user(request, payload.user_id, field="user_id")
    part = actions.add_participant(meeting, user=user, kind=payload.kind, acting_user=api_user(request), source_ip=client_ip(request))  # type: ignore[arg-type]
    return Status(201, {"user": person_out(part.user), "kind": part.kind})


@router.delete("/meetings/{meeting_id}/participants/{user_id}", response={204: None})
def remove_participant(request: HttpRequest, meeting_id: int, user_id: int) -> Status[None]:
    meeting = _meeting(request, meeting_id)
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise base_errors.NotFound()
    actions.remove_participant(meeting, user=user, acting_user=api_user(request), source_ip=client_ip(request))
    return Status(204, None)


# --- agenda ----------------------------------------------------------------------------------


@router.get("/meetings/{meeting_id}/items", response=list[ItemOut], summary="The items the caller may see, in agenda order")
def list_items(request: HttpRequest, meeting_id: int, status: str | None = None) -> list[dict[str, Any]]:
    meeting = _meeting(request, meeting_id)
    return [item_out(i) for i in permissions.visible_items(api_user(request), meeting) if status is None or i.status == status]


@router.post("/meetings/{meeting_id}/items", response={201: ItemOut}, summary="Propose an agenda item (secretaries)")
def propose_item(request: HttpRequest, meeting_id: int, payload: ItemIn, response: HttpResponse) -> Status[dict[str, Any]]:
    meeting = _meeting(request, meeting_id)
    item = actions.propose_item(
        meeting,
        acting_user=api_user(request),
        title=payload.title,
        summary=payload.summary,
        presenting_org=_government_org(request, payload.presenting_org_id),
        presenter=_government_user(request, payload.presenter_id, field="presenter_id"),
        planned_minutes=payload.planned_minutes,
        kind=payload.kind,
        classification=_level(payload.classification),
        document_refs=payload.document_refs,
        source_ip=client_ip(request),
    )
    _etag(response, item)
    return Status(201, item_out(item))


@router.put(
    "/meetings/{meeting_id}/agenda/order", response=list[ItemOut], url_name="meetings_reorder", summary="Reorder the agenda: every accepted item id once"
)
def reorder(request: HttpRequest, meeting_id: int, payload: ReorderIn, response: HttpResponse) -> list[dict[str, Any]]:
    meeting = _meeting(request, meeting_id)
    version = _version(request, payload.version)
    actions.reorder_agenda(meeting, acting_user=api_user(request), item_ids=payload.item_ids, version=version, source_ip=client_ip(request))
    _etag(response, meeting)
    return [item_out(i) for i in queries.agenda(api_user(request), meeting)]


@router.get("/items/{item_id}", response=ItemOut, summary="One agenda item; ETag = version")
def get_item(request: HttpRequest, item_id: int, response: HttpResponse) -> dict[str, Any]:
    item = _item(request, item_id)
    _etag(response, item)
    return item_out(item)


@router.patch("/items/{item_id}", response=ItemOut, summary="Edit an item; needs If-Match or version")
def patch_item(request: HttpRequest, item_id: int, payload: ItemPatch, response: HttpResponse) -> dict[str, Any]:
    item = _item(request, item_id)
    changes = payload.dict(exclude_unset=True)
    version = _version(request, changes.pop("version", None))
    if "classification" in changes:
        changes["classification"] = _level(changes["classification"])
    if "presenting_org_id" in changes:
        changes["presenting_org"] = _government_org(request, changes.pop("presenting_org_id"))
    if "presenter_id" in changes:
        changes["presenter"] = _government_user(request, changes.pop("presenter_id"), field="presenter_id")
    for name in ("title", "summary", "planned_minutes", "kind", "classification", "document_refs"):
        if name in changes and changes[name] is None:
            raise errors.InvalidMeetingData(f"{name} cannot be empty.", field=name)
    actions.update_item(item, acting_user=api_user(request), version=version, changes=changes, source_ip=client_ip(request))
    _etag(response, item)
    return item_out(item)


@router.post("/items/{item_id}/review", response=ItemOut, summary="Accept, return with comments, or reject a proposal (office secretaries)")
def review_item(request: HttpRequest, item_id: int, payload: ReviewIn, response: HttpResponse) -> dict[str, Any]:
    item = _item(request, item_id)
    version = _version(request, payload.version)
    actions.review_item(item, acting_user=api_user(request), decision=payload.decision, comment=payload.comment, version=version, source_ip=client_ip(request))
    _etag(response, item)
    return item_out(item)


@router.post("/items/{item_id}/resubmit", response=ItemOut, summary="Send a returned item back for review (its proposer)")
def resubmit_item(request: HttpRequest, item_id: int, response: HttpResponse, payload: VersionIn | None = None) -> dict[str, Any]:
    item = _item(request, item_id)
    actions.resubmit_item(item, acting_user=api_user(request), version=_version(request, payload.version if payload else None), source_ip=client_ip(request))
    _etag(response, item)
    return item_out(item)


@router.post("/items/{item_id}/withdraw", response=ItemOut, summary="Withdraw an item (its proposer)")
def withdraw_item(request: HttpRequest, item_id: int, response: HttpResponse) -> dict[str, Any]:
    item = _item(request, item_id)
    actions.withdraw_item(item, acting_user=api_user(request), source_ip=client_ip(request))
    _etag(response, item)
    return item_out(item)


@router.post("/items/{item_id}/guests", response={201: ItemOut}, summary="Invite a guest to this item only")
def add_item_guest(request: HttpRequest, item_id: int, payload: GuestIn) -> Status[dict[str, Any]]:
    item = _item(request, item_id)
    user = _government_user(request, payload.user_id, field="user_id")
    actions.add_item_guest(item, user=user, acting_user=api_user(request), source_ip=client_ip(request))  # type: ignore[arg-type]
    return Status(201, item_out(item))


@router.delete("/items/{item_id}/guests/{user_id}", response={204: None})
def remove_item_guest(request: HttpRequest, item_id: int, user_id: int) -> Status[None]:
    item = _item(request, item_id)
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise base_errors.NotFound()
    actions.remove_item_guest(item, user=user, acting_user=api_user(request), source_ip=client_ip(request))
    return Status(204, None)


# --- positions -------------------------------------------------------------------------------


def position_out(position: Any) -> dict[str, Any]:
    return {
        "item_id": position.item_id,
        "user": person_out(position.user),
        "stance": position.stance,
        "comment": position.comment,
        "updated_at": position.updated_at,
    }


@router.get("/items/{item_id}/positions", response=ItemPositionsOut, summary="Positions on an item, as the meeting's visibility allows")
def item_positions(request: HttpRequest, item_id: int) -> dict[str, Any]:
    me = api_user(request)
    item = _item(request, item_id)
    [(_, missing, expected)] = queries.missing_positions(item.meeting, [item])
    return {
        "item_id": item.pk,
        "expected": expected,
        "answered": expected - len(missing),
        "deadline": item.meeting.positions_deadline,
        "positions": [position_out(p) for p in queries.visible_positions(me, item)],
        "missing": [person_out(u) for u in missing] if permissions.can_see_missing_positions(me, item.meeting) else None,
    }


@router.put("/items/{item_id}/positions/me", response=PositionOut, summary="Record or change the caller's position before the deadline")
def record_position(request: HttpRequest, item_id: int, payload: PositionIn) -> dict[str, Any]:
    item = _item(request, item_id)
    position = actions.record_position(item, acting_user=api_user(request), stance=payload.stance, comment=payload.comment, source_ip=client_ip(request))
    return position_out(position)


@router.get("/meetings/{meeting_id}/positions/missing", response=list[MissingItemOut], summary="Who has not answered, per decision item (secretaries, chair)")
def missing_positions(request: HttpRequest, meeting_id: int) -> list[dict[str, Any]]:
    me = api_user(request)
    meeting = _meeting(request, meeting_id)
    if not permissions.can_see_missing_positions(me, meeting):
        raise base_errors.Forbidden("Only the chair and the office's secretaries see who has not answered.")
    rows = queries.missing_positions(meeting, queries.position_items(me, meeting))
    return [{"item_id": item.pk, "title": item.title, "expected": expected, "missing": [person_out(u) for u in missing]} for item, missing, expected in rows]


# --- consent agenda --------------------------------------------------------------------------


def consent_out(user: User, meeting: Meeting) -> dict[str, Any]:
    items = [i for i in queries.agenda(user, meeting) if i.in_consent_block]
    return {"proposed_at": meeting.consent_proposed_at, "confirmed_at": meeting.consent_confirmed_at, "items": [item_out(i) for i in items]}


@router.get("/meetings/{meeting_id}/consent", response=ConsentOut, summary="The consent block: items proposed for adoption without debate")
def get_consent(request: HttpRequest, meeting_id: int) -> dict[str, Any]:
    return consent_out(api_user(request), _meeting(request, meeting_id))


@router.post("/meetings/{meeting_id}/consent/propose", response=ConsentOut, summary="Propose the consent block now (office secretaries)")
def propose_consent(request: HttpRequest, meeting_id: int) -> dict[str, Any]:
    meeting = _meeting(request, meeting_id)
    actions.propose_consent_block(meeting, acting_user=api_user(request), source_ip=client_ip(request))
    return consent_out(api_user(request), meeting)


@router.delete("/meetings/{meeting_id}/consent/items/{item_id}", response=ConsentOut, summary="Take an item out of the consent block (chair)")
def remove_from_consent(request: HttpRequest, meeting_id: int, item_id: int) -> dict[str, Any]:
    meeting = _meeting(request, meeting_id)
    item = _item(request, item_id)
    if item.meeting_id != meeting.pk:
        raise base_errors.NotFound()
    actions.remove_from_consent_block(item, acting_user=api_user(request), source_ip=client_ip(request))
    meeting.refresh_from_db()
    return consent_out(api_user(request), meeting)


@router.post("/meetings/{meeting_id}/consent/confirm", response=ConsentOut, summary="Adopt the consent block in one go, before the first item (chair)")
def confirm_consent(request: HttpRequest, meeting_id: int) -> dict[str, Any]:
    meeting = _meeting(request, meeting_id)
    actions.confirm_consent_block(meeting, acting_user=api_user(request), source_ip=client_ip(request))
    return consent_out(api_user(request), meeting)


# --- calendar --------------------------------------------------------------------------------


def ics_response(request: HttpRequest, meetings: list[Meeting], *, filename: str) -> HttpResponse:
    pairs = [(m, request.build_absolute_uri(reverse("meetings:detail", args=[m.pk]))) for m in meetings]
    body = ics.calendar(pairs, domain=request.get_host().split(":")[0] or "ecabinet")
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


def feed_meetings(user: User) -> list[Meeting]:
    since = timezone.now() - timedelta(days=180)
    return list(permissions.visible_meetings(user).filter(starts_at__gte=since).order_by("starts_at")[:1000])


@router.get("/meetings/{meeting_id}/calendar.ics", summary="The meeting as an iCalendar file", response={200: str})
def meeting_ics(request: HttpRequest, meeting_id: int) -> HttpResponse:
    meeting = _meeting(request, meeting_id)
    return ics_response(request, [meeting], filename=f"meeting-{meeting.pk}.ics")


@router.get("/calendar/feeds", response=list[FeedOut], summary="The caller's calendar feeds")
def list_feeds(request: HttpRequest) -> Any:
    return CalendarFeed.objects.filter(user=api_user(request)).order_by("-created_at")


@router.post("/calendar/feeds", response={201: FeedCreatedOut}, summary="Create a secret calendar feed URL; the URL is shown only once")
def create_feed(request: HttpRequest) -> Status[dict[str, Any]]:
    feed, raw = actions.create_calendar_feed(acting_user=api_user(request), source_ip=client_ip(request))
    url = request.build_absolute_uri(reverse("meetings:calendar-feed", args=[raw]))
    return Status(201, {"id": feed.pk, "created_at": feed.created_at, "revoked_at": None, "url": url})


@router.delete("/calendar/feeds/{feed_id}", response=FeedOut, summary="Revoke a calendar feed")
def revoke_feed(request: HttpRequest, feed_id: int) -> CalendarFeed:
    feed = CalendarFeed.objects.filter(pk=feed_id, user=api_user(request)).first()
    if feed is None:
        raise base_errors.NotFound()
    return actions.revoke_calendar_feed(feed, acting_user=api_user(request), source_ip=client_ip(request))
