"""The speakers' list: request, withdraw, grant and end the floor; one speaker at a time."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.test import Client

from ecabinet.audit.models import AuditEntry
from ecabinet.identity.models import Role
from ecabinet.identity.tests.factories import UserFactory
from ecabinet.identity.tests.test_api_auth import assert_problem
from ecabinet.meetings import events, live
from ecabinet.meetings.models import Meeting, MeetingRules, SpeakerRequest
from ecabinet.meetings.tests.factories import ItemGuestFactory
from ecabinet.meetings.tests.live_helpers import base, open_session, post, signed_in

pytestmark = pytest.mark.django_db


def speakers(meeting, item):
    return f"{base(meeting)}/items/{item.pk}/speakers"


@pytest.fixture
def running(cabinet):
    open_session(cabinet.meeting)
    live.start_item(cabinet.items[0], acting_user=cabinet.chair)
    return cabinet.items[0]


def test_members_queue_and_the_chair_gives_and_ends_the_floor_in_order(cabinet, running):
    MeetingRules.objects.filter(organisation=cabinet.government).update(default_speaking_seconds=120)
    first, second = cabinet.members[0], cabinet.members[1]
    response = post(signed_in(first), speakers(cabinet.meeting, running))
    assert response.status_code == 201, response.content
    rows = post(signed_in(second), speakers(cabinet.meeting, running)).json()
    assert [(r["n"], r["user"]["id"], r["state"], r["time_limit_seconds"]) for r in rows] == [(1, first.pk, "waiting", 120), (2, second.pk, "waiting", 120)]
    chair = signed_in(cabinet.chair)
    rows = post(chair, f"{speakers(cabinet.meeting, running)}/{rows[0]['id']}/grant").json()
    assert rows[0]["state"] == "speaking" and rows[0]["granted_at"] is not None
    rows = post(chair, f"{speakers(cabinet.meeting, running)}/{rows[0]['id']}/end").json()
    assert rows[0]["state"] == "done" and rows[0]["ended_at"] >= rows[0]["granted_at"]
    rows = post(chair, f"{speakers(cabinet.meeting, running)}/{rows[1]['id']}/grant").json()
    assert [r["state"] for r in rows] == ["done", "speaking"]
    assert [e.event for e in AuditEntry.objects.filter(event__startswith="meetings.floor.").order_by("seq")] == [
        events.FLOOR_REQUESTED,
        events.FLOOR_REQUESTED,
        events.FLOOR_GRANTED,
        events.FLOOR_ENDED,
        events.FLOOR_GRANTED,
    ]
    assert AuditEntry.objects.filter(event=events.FLOOR_ENDED).get().details["spoke_seconds"] >= 0


def test_granting_while_someone_speaks_is_409(cabinet, running):
    a = live.request_floor(running, acting_user=cabinet.members[0])
    b = live.request_floor(running, acting_user=cabinet.members[1])
    live.grant_floor(running, a.pk, acting_user=cabinet.chair)
    assert_problem(post(signed_in(cabinet.chair), f"{speakers(cabinet.meeting, running)}/{b.pk}/grant"), 409, "floor_taken")
    b.refresh_from_db()
    assert b.state == SpeakerRequest.State.WAITING and b.granted_at is None


def test_the_database_refuses_two_speakers_even_if_a_check_is_bypassed(cabinet, running):
    a = live.request_floor(running, acting_user=cabinet.members[0])
    b = live.request_floor(running, acting_user=cabinet.members[1])
    SpeakerRequest.objects.filter(pk=a.pk).update(state=SpeakerRequest.State.SPEAKING)
    with pytest.raises(IntegrityError), transaction.atomic():
        SpeakerRequest.objects.filter(pk=b.pk).update(state=SpeakerRequest.State.SPEAKING)


def test_duplicate_request_and_withdraw(cabinet, running):
    client = signed_in(cabinet.members[0])
    assert post(client, speakers(cabinet.meeting, running)).status_code == 201
    assert_problem(post(client, speakers(cabinet.meeting, running)), 409, "floor_already_requested")
    rows = post(client, f"{speakers(cabinet.meeting, running)}/withdraw").json()
    assert [r["state"] for r in rows] == ["withdrawn"]
    assert_problem(post(client, f"{speakers(cabinet.meeting, running)}/withdraw"), 409, "floor_not_requested")
    # After withdrawing one may ask again; the record keeps both.
    assert post(client, speakers(cabinet.meeting, running)).status_code == 201
    assert SpeakerRequest.objects.filter(user=cabinet.members[0]).count() == 2


def test_a_speaker_who_withdraws_yields_the_floor(cabinet, running):
    req = live.request_floor(running, acting_user=cabinet.members[0])
    live.grant_floor(running, req.pk, acting_user=cabinet.chair)
    rows = post(signed_in(cabinet.members[0]), f"{speakers(cabinet.meeting, running)}/withdraw").json()
    assert rows[0]["state"] == "done" and rows[0]["ended_at"] is not None


def test_floor_only_on_the_running_item_and_in_session(cabinet, running):
    upcoming = cabinet.items[1]
    req = live.request_floor(upcoming, acting_user=cabinet.members[0])  # asking ahead is allowed
    assert_problem(post(signed_in(cabinet.chair), f"{speakers(cabinet.meeting, upcoming)}/{req.pk}/grant"), 409, "item_wrong_status")
    live.end_item(running, acting_user=cabinet.chair)
    assert_problem(post(signed_in(cabinet.members[1]), speakers(cabinet.meeting, running)), 409, "item_wrong_status")
    Meeting.objects.filter(pk=cabinet.meeting.pk).update(state=Meeting.State.CLOSED)
    assert_problem(post(signed_in(cabinet.members[1]), speakers(cabinet.meeting, upcoming)), 409, "meeting_wrong_state")
    assert SpeakerRequest.objects.filter(state=SpeakerRequest.State.SPEAKING).count() == 0


def test_guests_speak_only_where_invited(cabinet, running):
    # Invited to the whole meeting: may ask on any item.
    assert post(signed_in(cabinet.guest), speakers(cabinet.meeting, running)).status_code == 201
    # Invited to one item: may ask there; another item does not exist for them (404, not 403).
    expert = UserFactory(role=Role.GUEST, organisation=cabinet.government)
    ItemGuestFactory(item=cabinet.items[1], user=expert)
    client = signed_in(expert)
    assert post(client, speakers(cabinet.meeting, cabinet.items[1])).status_code == 201
    assert_problem(post(client, speakers(cabinet.meeting, running)), 404, "not_found")
    assert not SpeakerRequest.objects.filter(item=running, user=expert).exists()


def test_secretaries_are_not_on_the_speakers_list(cabinet, running):
    for user in (cabinet.office_secretary, cabinet.ministry_secretary):
        assert_problem(post(signed_in(user), speakers(cabinet.meeting, running)), 403, "floor_not_allowed")
    assert not SpeakerRequest.objects.exists()


def test_only_the_chair_or_office_secretary_grant_and_end(cabinet, running):
    req = live.request_floor(running, acting_user=cabinet.members[0])
    for user in (cabinet.members[0], cabinet.members[1], cabinet.guest, cabinet.ministry_secretary):
        assert_problem(post(signed_in(user), f"{speakers(cabinet.meeting, running)}/{req.pk}/grant"), 403, "forbidden")
    assert post(signed_in(cabinet.office_secretary), f"{speakers(cabinet.meeting, running)}/{req.pk}/grant").status_code == 200
    assert_problem(post(signed_in(cabinet.members[1]), f"{speakers(cabinet.meeting, running)}/{req.pk}/end"), 403, "forbidden")
    req.refresh_from_db()
    assert req.state == SpeakerRequest.State.SPEAKING


def test_anonymous_outsiders_and_unknown_requests(cabinet, running):
    assert_problem(post(Client(), speakers(cabinet.meeting, running)), 401, "not_authenticated")
    stranger = UserFactory(role=Role.MEMBER, organisation=cabinet.government)
    assert_problem(post(signed_in(stranger), speakers(cabinet.meeting, running)), 404, "not_found")
    assert_problem(post(signed_in(cabinet.chair), f"{speakers(cabinet.meeting, running)}/999999/grant"), 404, "not_found")
    req = live.request_floor(cabinet.items[1], acting_user=cabinet.members[0])
    # a request of another item under this item's URL
    assert_problem(post(signed_in(cabinet.chair), f"{speakers(cabinet.meeting, running)}/{req.pk}/grant"), 404, "not_found")
    assert_problem(post(signed_in(cabinet.chair), f"{speakers(cabinet.meeting, running)}/{req.pk}/end"), 404, "not_found")
    assert not SpeakerRequest.objects.filter(item=running).exists()


def test_ending_the_item_ends_the_floor(cabinet, running):
    req = live.request_floor(running, acting_user=cabinet.members[0])
    live.grant_floor(running, req.pk, acting_user=cabinet.chair)
    live.end_item(running, acting_user=cabinet.chair)
    req.refresh_from_db()
    running.refresh_from_db()
    assert req.state == SpeakerRequest.State.DONE and req.ended_at == running.ended_at
