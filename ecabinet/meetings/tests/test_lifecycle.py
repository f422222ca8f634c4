"""The meeting state machine, who may move it, optimistic locking and visibility."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from ecabinet.identity.models import Clearance, Role
from ecabinet.identity.tests.factories import GovernmentFactory, UserFactory
from ecabinet.meetings import actions, broadcast, events
from ecabinet.meetings.models import Meeting, Participant
from ecabinet.meetings.tests.factories import AgendaItemFactory, MeetingFactory
from ecabinet.meetings.tests.helpers import api_client, assert_problem, audit_count, patch_json, post_json

pytestmark = pytest.mark.django_db


@pytest.fixture
def published(monkeypatch):
    """Record every live event the actions publish."""
    sent: list[tuple[int, str, dict, int]] = []
    monkeypatch.setattr(broadcast, "publish", lambda meeting_id, kind, data, *, min_level, item_id=None: sent.append((meeting_id, kind, data, min_level)))
    return sent


def new_meeting_body(cabinet, **overrides):
    starts = timezone.now() + timedelta(days=5)
    body = {
        "title": "Phiên họp chuyên đề về xây dựng pháp luật",
        "starts_at": starts.isoformat(),
        "planned_end": (starts + timedelta(hours=3)).isoformat(),
        "chair_id": cabinet.chair.pk,
        "kind": "thematic",
        "place": "Phòng họp số 1",
        "positions_deadline": (starts - timedelta(days=1)).isoformat(),
    }
    body.update(overrides)
    return body


def test_office_secretary_creates_a_draft_meeting(cabinet):
    client = api_client(cabinet.office_secretary)
    response = post_json(client, "/api/v1/meetings", new_meeting_body(cabinet))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["state"] == "draft" and body["version"] == 1 and body["classification"] == "internal"
    assert response["ETag"] == 'W/"1"'
    meeting = Meeting.objects.get(pk=body["id"])
    assert meeting.created_by == cabinet.office_secretary and meeting.organisation == cabinet.government
    assert Participant.objects.filter(meeting=meeting, user=cabinet.chair, kind=Participant.Kind.MEMBER).exists()
    assert audit_count(events.MEETING_CREATED, object_id=str(meeting.pk), actor=cabinet.office_secretary) == 1


@pytest.mark.parametrize("who", ["members", "ministry_secretary", "chair", "guest"])
def test_only_office_secretaries_create_meetings(cabinet, who):
    user = getattr(cabinet, who)
    user = user[0] if isinstance(user, list) else user
    before = Meeting.objects.count()
    response = post_json(api_client(user), "/api/v1/meetings", new_meeting_body(cabinet))
    assert_problem(response, 403, "forbidden")
    assert Meeting.objects.count() == before


def test_anonymous_is_401_everywhere(cabinet):
    anonymous = Client()
    assert_problem(anonymous.get("/api/v1/meetings"), 401, "not_authenticated")
    assert_problem(post_json(anonymous, "/api/v1/meetings", new_meeting_body(cabinet)), 401, "not_authenticated")
    assert_problem(anonymous.get(f"/api/v1/meetings/{cabinet.meeting.pk}"), 401, "not_authenticated")
    assert_problem(post_json(anonymous, f"/api/v1/meetings/{cabinet.meeting.pk}/publish", {}), 401, "not_authenticated")
    cabinet.refresh()
    assert cabinet.meeting.state == Meeting.State.SCHEDULED


def test_unknown_and_bad_fields_are_422(cabinet):
    client = api_client(cabinet.office_secretary)
    assert_problem(post_json(client, "/api/v1/meetings", new_meeting_body(cabinet, colour="red")), 422, "validation_error")
    assert_problem(post_json(client, "/api/v1/meetings", new_meeting_body(cabinet, classification="ultra")), 422, "validation_error")
    ends_first = new_meeting_body(cabinet)
    ends_first["planned_end"] = (timezone.now() + timedelta(days=1)).isoformat()
    assert_problem(post_json(client, "/api/v1/meetings", ends_first), 422, "invalid_meeting_data")
    foreign_chair = UserFactory(role=Role.CHAIR, organisation=GovernmentFactory())
    assert_problem(post_json(client, "/api/v1/meetings", new_meeting_body(cabinet, chair_id=foreign_chair.pk)), 422, "invalid_meeting_data")
    assert_problem(patch_json(client, f"/api/v1/meetings/{cabinet.meeting.pk}", {"version": 1, "state": "closed"}), 422, "validation_error")
    assert Meeting.objects.count() == 1


def test_full_lifecycle_through_the_api(cabinet, published):
    client = api_client(cabinet.office_secretary)
    meeting_id = cabinet.meeting.pk
    walk = [("publish", "dossier_published"), ("open", "in_session"), ("adjourn", "adjourned"), ("resume", "in_session"), ("close", "closed")]
    version = cabinet.meeting.version
    for action, state in walk:
        response = post_json(client, f"/api/v1/meetings/{meeting_id}/{action}", {})
        assert response.status_code == 200, (action, response.content)
        assert response.json()["state"] == state
        assert response.json()["version"] == version + 1
        version += 1
    assert [(kind, data["state"]) for _, kind, data, _ in published if kind == "meeting.state"] == [("meeting.state", s) for _, s in walk]
    assert all(level == Clearance.INTERNAL for *_, level in published)
    assert audit_count(events.MEETING_TRANSITION, object_id=str(meeting_id)) == len(walk)
    cabinet.refresh()
    assert cabinet.meeting.dossier_published_at and cabinet.meeting.opened_at and cabinet.meeting.closed_at
    assert cabinet.meeting.adjourned_at is None


def test_chair_can_run_the_session_but_members_cannot(cabinet):
    meeting = cabinet.meeting
    actions.publish_dossier(meeting, acting_user=cabinet.office_secretary)
    assert_problem(post_json(api_client(cabinet.members[0]), f"/api/v1/meetings/{meeting.pk}/open", {}), 403, "forbidden")
    meeting.refresh_from_db()
    assert meeting.state == Meeting.State.DOSSIER_PUBLISHED
    response = post_json(api_client(cabinet.chair), f"/api/v1/meetings/{meeting.pk}/open", {})
    assert response.status_code == 200 and response.json()["state"] == "in_session"


@pytest.mark.parametrize(
    ("state", "action"),
    [
        (Meeting.State.DRAFT, "publish"),
        (Meeting.State.SCHEDULED, "open"),
        (Meeting.State.SCHEDULED, "close"),
        (Meeting.State.DOSSIER_PUBLISHED, "schedule"),
        (Meeting.State.IN_SESSION, "cancel"),
        (Meeting.State.IN_SESSION, "resume"),
        (Meeting.State.ADJOURNED, "adjourn"),
        (Meeting.State.CLOSED, "open"),
        (Meeting.State.CANCELLED, "schedule"),
    ],
)
def test_out_of_order_transitions_are_409_and_change_nothing(cabinet, state, action, published):
    Meeting.objects.filter(pk=cabinet.meeting.pk).update(state=state)
    before = audit_count(events.MEETING_TRANSITION)
    response = post_json(api_client(cabinet.office_secretary), f"/api/v1/meetings/{cabinet.meeting.pk}/{action}", {})
    body = assert_problem(response, 409, "meeting_wrong_state")
    assert body["state"] == state
    cabinet.refresh()
    assert cabinet.meeting.state == state and cabinet.meeting.version == 1
    assert audit_count(events.MEETING_TRANSITION) == before
    assert published == []


def test_publish_needs_an_accepted_item(cabinet):
    empty = MeetingFactory(organisation=cabinet.government, chair=cabinet.chair, state=Meeting.State.SCHEDULED)
    AgendaItemFactory(meeting=empty, status="proposed", proposed_by=cabinet.ministry_secretary)
    response = post_json(api_client(cabinet.office_secretary), f"/api/v1/meetings/{empty.pk}/publish", {})
    assert_problem(response, 409, "meeting_wrong_state")
    empty.refresh_from_db()
    assert empty.state == Meeting.State.SCHEDULED and empty.dossier_published_at is None


def test_cancel_from_preparation_states(cabinet):
    response = post_json(api_client(cabinet.office_secretary), f"/api/v1/meetings/{cabinet.meeting.pk}/cancel", {})
    assert response.status_code == 200 and response.json()["state"] == "cancelled"
    cabinet.refresh()
    assert cabinet.meeting.cancelled_at is not None


def test_get_returns_etag_and_patch_with_if_match(cabinet, published):
    client = api_client(cabinet.office_secretary)
    url = f"/api/v1/meetings/{cabinet.meeting.pk}"
    got = client.get(url)
    assert got.status_code == 200 and got["ETag"] == 'W/"1"' and got.json()["version"] == 1
    response = patch_json(client, url, {"title": "Phiên họp thường kỳ tháng Mười"}, HTTP_IF_MATCH=got["ETag"])
    assert response.status_code == 200, response.content
    assert response["ETag"] == 'W/"2"' and response.json()["title"] == "Phiên họp thường kỳ tháng Mười"
    assert audit_count(events.MEETING_UPDATED, object_id=str(cabinet.meeting.pk)) == 1
    assert [kind for _, kind, _, _ in published] == ["meeting.updated"]


def test_two_concurrent_editors_the_second_gets_409(cabinet):
    url = f"/api/v1/meetings/{cabinet.meeting.pk}"
    alice, bob = api_client(cabinet.office_secretary), api_client(cabinet.chair)
    alice_version = alice.get(url).json()["version"]
    bob_version = bob.get(url).json()["version"]
    assert patch_json(alice, url, {"version": alice_version, "place": "Hội trường Diên Hồng"}).status_code == 200
    stale = patch_json(bob, url, {"version": bob_version, "place": "Phòng họp B"})
    body = assert_problem(stale, 409, "stale_version")
    assert body["current_version"] == alice_version + 1
    cabinet.refresh()
    assert cabinet.meeting.place == "Hội trường Diên Hồng" and cabinet.meeting.version == 2
    assert audit_count(events.MEETING_UPDATED) == 1


def test_patch_without_a_version_is_refused(cabinet):
    url = f"/api/v1/meetings/{cabinet.meeting.pk}"
    client = api_client(cabinet.office_secretary)
    assert_problem(patch_json(client, url, {"title": "Không có phiên bản"}), 428, "version_required")
    assert_problem(patch_json(client, url, {"title": "x"}, HTTP_IF_MATCH="garbage"), 400, "invalid_input")
    cabinet.refresh()
    assert cabinet.meeting.title != "Không có phiên bản" and cabinet.meeting.version == 1


def test_editing_a_closed_meeting_is_409(cabinet):
    Meeting.objects.filter(pk=cabinet.meeting.pk).update(state=Meeting.State.CLOSED)
    response = patch_json(api_client(cabinet.office_secretary), f"/api/v1/meetings/{cabinet.meeting.pk}", {"version": 1, "title": "Sửa sau khi bế mạc"})
    assert_problem(response, 409, "meeting_wrong_state")
    cabinet.refresh()
    assert cabinet.meeting.title != "Sửa sau khi bế mạc"


def test_member_cannot_edit_and_outsider_gets_404(cabinet):
    url = f"/api/v1/meetings/{cabinet.meeting.pk}"
    assert_problem(patch_json(api_client(cabinet.members[0]), url, {"version": 1, "title": "x"}), 404, "not_found")
    cabinet.refresh()
    assert cabinet.meeting.version == 1


def test_invisible_meetings_are_404_and_absent_from_lists(cabinet):
    other_gov = MeetingFactory()
    secret = MeetingFactory(organisation=cabinet.government, chair=cabinet.chair, classification=Clearance.SECRET)
    Participant.objects.create(meeting=secret, user=cabinet.members[0], kind=Participant.Kind.MEMBER)
    uninvited = MeetingFactory(organisation=cabinet.government, chair=cabinet.chair)
    member = api_client(cabinet.members[0])
    listed = [m["id"] for m in member.get("/api/v1/meetings").json()]
    assert listed == [cabinet.meeting.pk]
    for hidden in (other_gov, secret, uninvited):
        assert_problem(member.get(f"/api/v1/meetings/{hidden.pk}"), 404, "not_found")
    secretary = api_client(cabinet.office_secretary)
    assert other_gov.pk not in [m["id"] for m in secretary.get("/api/v1/meetings").json()]
    assert_problem(post_json(secretary, f"/api/v1/meetings/{other_gov.pk}/cancel", {}), 404, "not_found")
    other_gov.refresh_from_db()
    assert other_gov.state == Meeting.State.DRAFT


def test_cannot_create_above_own_clearance(cabinet):
    response = post_json(api_client(cabinet.office_secretary), "/api/v1/meetings", new_meeting_body(cabinet, classification="secret"))
    assert_problem(response, 422, "invalid_meeting_data")
    assert Meeting.objects.count() == 1


def test_participants_added_and_removed(cabinet):
    client = api_client(cabinet.office_secretary)
    newcomer = UserFactory(role=Role.MEMBER, organisation=cabinet.ministry)
    url = f"/api/v1/meetings/{cabinet.meeting.pk}/participants"
    response = post_json(client, url, {"user_id": newcomer.pk})
    assert response.status_code == 201 and response.json()["kind"] == "member"
    assert_problem(post_json(client, url, {"user_id": newcomer.pk}), 409, "conflict")
    assert_problem(post_json(client, url, {"user_id": cabinet.guest.pk, "kind": "member"}), 422, "invalid_meeting_data")
    low = UserFactory(role=Role.MEMBER, organisation=cabinet.ministry, clearance=Clearance.PUBLIC)
    assert_problem(post_json(client, url, {"user_id": low.pk}), 422, "invalid_meeting_data")
    assert client.delete(f"{url}/{newcomer.pk}").status_code == 204
    assert not Participant.objects.filter(meeting=cabinet.meeting, user=newcomer).exists()
    assert_problem(client.delete(f"{url}/{cabinet.chair.pk}"), 422, "invalid_meeting_data")
    assert audit_count(events.PARTICIPANT_ADDED) == 1 and audit_count(events.PARTICIPANT_REMOVED) == 1
    assert_problem(post_json(api_client(cabinet.members[1]), url, {"user_id": low.pk}), 404, "not_found")


def test_endpoints_are_documented_in_openapi(db):
    paths = Client().get("/api/v1/openapi.json").json()["paths"]
    for path in (
        "/api/v1/meetings",
        "/api/v1/meetings/{meeting_id}",
        "/api/v1/meetings/{meeting_id}/publish",
        "/api/v1/meetings/{meeting_id}/agenda/order",
        "/api/v1/items/{item_id}/review",
        "/api/v1/items/{item_id}/positions/me",
        "/api/v1/meetings/{meeting_id}/positions/missing",
        "/api/v1/meetings/{meeting_id}/consent/confirm",
        "/api/v1/calendar/feeds",
    ):
        assert path in paths, path
    assert "patch" in paths["/api/v1/meetings/{meeting_id}"]
