"""Positions before the session: who may record them, until when, and who sees what."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from ecabinet.identity.models import Role
from ecabinet.identity.tests.factories import UserFactory
from ecabinet.meetings import actions, events
from ecabinet.meetings.models import AgendaItem, Meeting, Position
from ecabinet.meetings.tests.factories import AgendaItemFactory, PositionFactory
from ecabinet.meetings.tests.helpers import api_client, assert_problem, audit_count, put_json

pytestmark = pytest.mark.django_db


def url(item):
    return f"/api/v1/items/{item.pk}/positions/me"


def test_member_records_and_changes_a_position(cabinet):
    item = cabinet.items[0]
    member = api_client(cabinet.members[0])
    response = put_json(member, url(item), {"stance": "object", "comment": "Chưa đủ cơ sở pháp lý."})
    assert response.status_code == 200, response.content
    assert response.json()["stance"] == "object" and response.json()["user"]["id"] == cabinet.members[0].pk
    changed = put_json(member, url(item), {"stance": "agree_with_comments", "comment": "Đồng ý, đề nghị chỉnh sửa Điều 5."})
    assert changed.json()["stance"] == "agree_with_comments"
    position = Position.objects.get(item=item, user=cabinet.members[0])
    assert position.stance == Position.Stance.AGREE_WITH_COMMENTS
    assert audit_count(events.POSITION_RECORDED, object_id=str(item.pk)) == 2


def test_chair_records_positions_too(cabinet):
    response = put_json(api_client(cabinet.chair), url(cabinet.items[1]), {"stance": "wish_to_speak"})
    assert response.status_code == 200 and response.json()["stance"] == "wish_to_speak"


def test_position_after_the_deadline_is_409(cabinet):
    Meeting.objects.filter(pk=cabinet.meeting.pk).update(positions_deadline=timezone.now() - timedelta(minutes=1))
    response = put_json(api_client(cabinet.members[1]), url(cabinet.items[0]), {"stance": "agree"})
    assert_problem(response, 409, "positions_deadline_passed")
    assert not Position.objects.exists()
    assert audit_count(events.POSITION_RECORDED) == 0


def test_existing_position_cannot_change_after_the_deadline(cabinet):
    PositionFactory(item=cabinet.items[0], user=cabinet.members[1], stance=Position.Stance.AGREE)
    Meeting.objects.filter(pk=cabinet.meeting.pk).update(positions_deadline=timezone.now() - timedelta(seconds=1))
    assert_problem(put_json(api_client(cabinet.members[1]), url(cabinet.items[0]), {"stance": "object"}), 409, "positions_deadline_passed")
    assert Position.objects.get(item=cabinet.items[0], user=cabinet.members[1]).stance == Position.Stance.AGREE


@pytest.mark.parametrize("who", ["guest", "office_secretary", "ministry_secretary"])
def test_non_members_cannot_record_positions(cabinet, who):
    response = put_json(api_client(getattr(cabinet, who)), url(cabinet.items[0]), {"stance": "agree"})
    assert_problem(response, 403, "not_participant")
    assert not Position.objects.exists()


def test_uninvited_member_and_anonymous(cabinet):
    outsider = UserFactory(role=Role.MEMBER, organisation=cabinet.ministry)
    assert_problem(put_json(api_client(outsider), url(cabinet.items[0]), {"stance": "agree"}), 404, "not_found")
    assert_problem(put_json(Client(), url(cabinet.items[0]), {"stance": "agree"}), 401, "not_authenticated")
    assert not Position.objects.exists()


def test_bad_stance_and_unknown_fields_are_422(cabinet):
    member = api_client(cabinet.members[0])
    assert_problem(put_json(member, url(cabinet.items[0]), {"stance": "maybe"}), 422, "validation_error")
    assert_problem(put_json(member, url(cabinet.items[0]), {"stance": "agree", "vote": "yes"}), 422, "validation_error")
    assert not Position.objects.exists()


def test_positions_only_on_accepted_decision_items_of_a_preparing_meeting(cabinet):
    info = AgendaItemFactory(meeting=cabinet.meeting, kind=AgendaItem.Kind.INFORMATION, proposed_by=cabinet.ministry_secretary)
    member = api_client(cabinet.members[0])
    assert_problem(put_json(member, url(info), {"stance": "agree"}), 409, "item_wrong_status")
    Meeting.objects.filter(pk=cabinet.meeting.pk).update(state=Meeting.State.IN_SESSION)
    assert_problem(put_json(member, url(cabinet.items[0]), {"stance": "agree"}), 409, "meeting_wrong_state")
    assert not Position.objects.exists()


def test_visibility_all_members(cabinet):
    actions.record_position(cabinet.items[0], acting_user=cabinet.members[0], stance="object", comment="Phản đối")
    actions.record_position(cabinet.items[0], acting_user=cabinet.members[1], stance="agree")
    body = api_client(cabinet.members[2]).get(f"/api/v1/items/{cabinet.items[0].pk}/positions").json()
    assert {p["user"]["id"] for p in body["positions"]} == {cabinet.members[0].pk, cabinet.members[1].pk}
    assert body["missing"] is None
    assert body["expected"] == 5 and body["answered"] == 2


def test_visibility_chair_and_secretaries_only(cabinet):
    Meeting.objects.filter(pk=cabinet.meeting.pk).update(positions_visibility=Meeting.PositionsVisibility.CHAIR_AND_SECRETARIES)
    actions.record_position(cabinet.items[0], acting_user=cabinet.members[0], stance="object")
    actions.record_position(cabinet.items[0], acting_user=cabinet.members[1], stance="agree")
    own = api_client(cabinet.members[1]).get(f"/api/v1/items/{cabinet.items[0].pk}/positions").json()
    assert [p["user"]["id"] for p in own["positions"]] == [cabinet.members[1].pk]
    chair = api_client(cabinet.chair).get(f"/api/v1/items/{cabinet.items[0].pk}/positions").json()
    assert {p["user"]["id"] for p in chair["positions"]} == {cabinet.members[0].pk, cabinet.members[1].pk}


def test_secretary_sees_who_has_not_answered(cabinet):
    for member in cabinet.members[:3]:
        actions.record_position(cabinet.items[0], acting_user=member, stance="agree")
    office = api_client(cabinet.office_secretary)
    rows = office.get(f"/api/v1/meetings/{cabinet.meeting.pk}/positions/missing").json()
    assert [row["item_id"] for row in rows] == [i.pk for i in cabinet.items]
    first = rows[0]
    assert first["expected"] == 5
    assert {u["id"] for u in first["missing"]} == {cabinet.chair.pk, cabinet.members[3].pk}
    assert len(rows[1]["missing"]) == 5
    per_item = office.get(f"/api/v1/items/{cabinet.items[0].pk}/positions").json()
    assert {u["id"] for u in per_item["missing"]} == {cabinet.chair.pk, cabinet.members[3].pk}
    assert_problem(api_client(cabinet.members[0]).get(f"/api/v1/meetings/{cabinet.meeting.pk}/positions/missing"), 403, "forbidden")
