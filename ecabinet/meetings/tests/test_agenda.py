"""Agenda items: the submission flow, edits under optimistic locking, reorder, guests per item."""

from __future__ import annotations

import pytest
from django.test import Client

from ecabinet.identity.models import Clearance, Role
from ecabinet.identity.tests.factories import UserFactory
from ecabinet.meetings import actions, events
from ecabinet.meetings.models import AgendaItem, Meeting
from ecabinet.meetings.tests.factories import AgendaItemFactory, MeetingFactory
from ecabinet.meetings.tests.helpers import api_client, assert_problem, audit_count, patch_json, post_json, put_json

pytestmark = pytest.mark.django_db


def proposal(cabinet, **overrides):
    body = {
        "title": "Tờ trình dự án Luật Đất đai (sửa đổi)",
        "summary": "Bộ Tài chính trình Chính phủ.",
        "planned_minutes": 20,
        "kind": "decision",
        "presenter_id": cabinet.members[0].pk,
        "document_refs": ["TTr-123/BTC", "DT-Luat-Dat-dai-v3.pdf"],
    }
    body.update(overrides)
    return body


def test_ministry_secretary_proposes_and_office_accepts(cabinet):
    ministry = api_client(cabinet.ministry_secretary)
    response = post_json(ministry, f"/api/v1/meetings/{cabinet.meeting.pk}/items", proposal(cabinet))
    assert response.status_code == 201, response.content
    item = response.json()
    assert item["status"] == "proposed" and item["presenting_org_id"] == cabinet.ministry.pk
    assert item["document_refs"] == ["TTr-123/BTC", "DT-Luat-Dat-dai-v3.pdf"] and item["classification"] == "internal"
    assert audit_count(events.ITEM_PROPOSED, object_id=str(item["id"])) == 1
    # Members do not see proposals; the office does.
    member = api_client(cabinet.members[0])
    assert_problem(member.get(f"/api/v1/items/{item['id']}"), 404, "not_found")
    assert item["id"] not in [i["id"] for i in member.get(f"/api/v1/meetings/{cabinet.meeting.pk}/items").json()]
    office = api_client(cabinet.office_secretary)
    meeting_version = office.get(f"/api/v1/meetings/{cabinet.meeting.pk}").json()["version"]
    accepted = post_json(office, f"/api/v1/items/{item['id']}/review", {"decision": "accept"})
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    assert accepted.json()["order"] == 4  # after the three accepted items
    assert office.get(f"/api/v1/meetings/{cabinet.meeting.pk}").json()["version"] == meeting_version + 1
    assert member.get(f"/api/v1/items/{item['id']}").status_code == 200
    assert audit_count(events.ITEM_REVIEWED, object_id=str(item["id"])) == 1


def test_returned_item_is_edited_and_resubmitted(cabinet):
    item = actions.propose_item(cabinet.meeting, acting_user=cabinet.ministry_secretary, title="Đề án ban đầu")
    office, ministry = api_client(cabinet.office_secretary), api_client(cabinet.ministry_secretary)
    assert_problem(post_json(office, f"/api/v1/items/{item.pk}/review", {"decision": "return"}), 422, "invalid_meeting_data")
    returned = post_json(office, f"/api/v1/items/{item.pk}/review", {"decision": "return", "comment": "Bổ sung đánh giá tác động."})
    assert returned.json()["status"] == "returned" and returned.json()["review_comment"] == "Bổ sung đánh giá tác động."
    # Cannot accept a returned item before it is re-submitted.
    assert_problem(post_json(office, f"/api/v1/items/{item.pk}/review", {"decision": "accept"}), 409, "item_wrong_status")
    got = ministry.get(f"/api/v1/items/{item.pk}")
    edited = patch_json(ministry, f"/api/v1/items/{item.pk}", {"title": "Đề án đã bổ sung"}, HTTP_IF_MATCH=got["ETag"])
    assert edited.status_code == 200 and edited.json()["title"] == "Đề án đã bổ sung" and edited.json()["status"] == "returned"
    assert_problem(post_json(office, f"/api/v1/items/{item.pk}/resubmit", {}), 403, "forbidden")
    resubmitted = post_json(ministry, f"/api/v1/items/{item.pk}/resubmit", {})
    assert resubmitted.status_code == 200 and resubmitted.json()["status"] == "proposed"
    assert post_json(office, f"/api/v1/items/{item.pk}/review", {"decision": "accept"}).json()["status"] == "accepted"
    # Once accepted, the ministry can no longer edit it.
    assert_problem(patch_json(ministry, f"/api/v1/items/{item.pk}", {"version": 10, "title": "x"}), 409, "item_wrong_status")
    assert audit_count(events.ITEM_RESUBMITTED) == 1 and audit_count(events.ITEM_UPDATED) == 1


def test_reject_and_withdraw(cabinet):
    first = actions.propose_item(cabinet.meeting, acting_user=cabinet.ministry_secretary, title="Bị từ chối")
    second = actions.propose_item(cabinet.meeting, acting_user=cabinet.ministry_secretary, title="Được rút lại")
    office, ministry = api_client(cabinet.office_secretary), api_client(cabinet.ministry_secretary)
    assert post_json(office, f"/api/v1/items/{first.pk}/review", {"decision": "reject", "comment": "Không thuộc thẩm quyền"}).json()["status"] == "rejected"
    assert_problem(post_json(office, f"/api/v1/items/{first.pk}/review", {"decision": "accept"}), 409, "item_wrong_status")
    assert_problem(post_json(office, f"/api/v1/items/{second.pk}/withdraw", {}), 403, "forbidden")
    assert post_json(ministry, f"/api/v1/items/{second.pk}/withdraw", {}).json()["status"] == "withdrawn"
    assert_problem(post_json(ministry, f"/api/v1/items/{second.pk}/withdraw", {}), 409, "item_wrong_status")
    assert audit_count(events.ITEM_WITHDRAWN) == 1


@pytest.mark.parametrize("who", ["members", "guest", "chair"])
def test_only_secretaries_propose(cabinet, who):
    user = getattr(cabinet, who)
    user = user[0] if isinstance(user, list) else user
    response = post_json(api_client(user), f"/api/v1/meetings/{cabinet.meeting.pk}/items", proposal(cabinet))
    assert_problem(response, 403, "forbidden")
    assert AgendaItem.objects.filter(meeting=cabinet.meeting).count() == 3


def test_ministry_secretary_cannot_review(cabinet):
    item = actions.propose_item(cabinet.meeting, acting_user=cabinet.ministry_secretary, title="Tự duyệt?")
    assert_problem(post_json(api_client(cabinet.ministry_secretary), f"/api/v1/items/{item.pk}/review", {"decision": "accept"}), 403, "forbidden")
    item.refresh_from_db()
    assert item.status == AgendaItem.Status.PROPOSED


def test_bad_proposals(cabinet):
    ministry = api_client(cabinet.ministry_secretary)
    url = f"/api/v1/meetings/{cabinet.meeting.pk}/items"
    assert_problem(post_json(ministry, url, proposal(cabinet, priority="high")), 422, "validation_error")
    assert_problem(post_json(ministry, url, proposal(cabinet, planned_minutes=0)), 422, "validation_error")
    assert_problem(post_json(ministry, url, proposal(cabinet, classification="secret")), 422, "invalid_meeting_data")
    Meeting.objects.filter(pk=cabinet.meeting.pk).update(state=Meeting.State.CLOSED)
    assert_problem(post_json(ministry, url, proposal(cabinet)), 409, "meeting_wrong_state")
    assert AgendaItem.objects.filter(meeting=cabinet.meeting).count() == 3


def test_proposals_to_invisible_meetings_are_404(cabinet):
    foreign = MeetingFactory()
    assert_problem(post_json(api_client(cabinet.ministry_secretary), f"/api/v1/meetings/{foreign.pk}/items", proposal(cabinet)), 404, "not_found")
    assert not foreign.items.exists()


def test_item_edit_stale_version(cabinet):
    item = cabinet.items[0]
    office = api_client(cabinet.office_secretary)
    assert patch_json(office, f"/api/v1/items/{item.pk}", {"version": 1, "planned_minutes": 30}).status_code == 200
    assert_problem(patch_json(office, f"/api/v1/items/{item.pk}", {"version": 1, "planned_minutes": 5}), 409, "stale_version")
    assert_problem(patch_json(office, f"/api/v1/items/{item.pk}", {"planned_minutes": 5}), 428, "version_required")
    item.refresh_from_db()
    assert item.planned_minutes == 30 and item.version == 2


def test_reorder_agenda(cabinet):
    office = api_client(cabinet.office_secretary)
    first, second, third = (i.pk for i in cabinet.items)
    got = office.get(f"/api/v1/meetings/{cabinet.meeting.pk}")
    response = put_json(office, f"/api/v1/meetings/{cabinet.meeting.pk}/agenda/order", {"item_ids": [third, first, second]}, HTTP_IF_MATCH=got["ETag"])
    assert response.status_code == 200, response.content
    assert [i["id"] for i in response.json()] == [third, first, second]
    assert response["ETag"] == 'W/"2"'
    assert list(AgendaItem.objects.filter(meeting=cabinet.meeting).order_by("order").values_list("pk", flat=True)) == [third, first, second]
    assert audit_count(events.AGENDA_REORDERED, object_id=str(cabinet.meeting.pk)) == 1


def test_reorder_concurrent_editor_gets_409(cabinet):
    first, second, third = (i.pk for i in cabinet.items)
    url = f"/api/v1/meetings/{cabinet.meeting.pk}/agenda/order"
    chair, office = api_client(cabinet.chair), api_client(cabinet.office_secretary)
    assert put_json(chair, url, {"item_ids": [second, first, third], "version": 1}).status_code == 200
    assert_problem(put_json(office, url, {"item_ids": [third, second, first], "version": 1}), 409, "stale_version")
    assert list(AgendaItem.objects.filter(meeting=cabinet.meeting).order_by("order").values_list("pk", flat=True)) == [second, first, third]


def test_reorder_with_missing_foreign_or_duplicate_ids_is_422(cabinet):
    first, second, third = (i.pk for i in cabinet.items)
    foreign = AgendaItemFactory()
    url = f"/api/v1/meetings/{cabinet.meeting.pk}/agenda/order"
    office = api_client(cabinet.office_secretary)
    body = assert_problem(put_json(office, url, {"item_ids": [third, first], "version": 1}), 422, "invalid_agenda_order")
    assert body["missing"] == [second]
    body = assert_problem(put_json(office, url, {"item_ids": [third, first, second, foreign.pk], "version": 1}), 422, "invalid_agenda_order")
    assert body["unknown"] == [foreign.pk]
    assert_problem(put_json(office, url, {"item_ids": [third, first, first, second], "version": 1}), 422, "invalid_agenda_order")
    assert_problem(put_json(office, url, {"item_ids": "1,2,3", "version": 1}), 422, "validation_error")
    cabinet.refresh()
    assert [i.order for i in cabinet.items] == [1, 2, 3] and cabinet.meeting.version == 1


def test_member_cannot_reorder_and_anonymous_is_401(cabinet):
    url = f"/api/v1/meetings/{cabinet.meeting.pk}/agenda/order"
    ids = [i.pk for i in reversed(cabinet.items)]
    assert_problem(put_json(api_client(cabinet.members[0]), url, {"item_ids": ids, "version": 1}), 403, "forbidden")
    assert_problem(put_json(Client(), url, {"item_ids": ids, "version": 1}), 401, "not_authenticated")
    cabinet.refresh()
    assert [i.order for i in cabinet.items] == [1, 2, 3]


def test_guest_per_item_sees_only_that_item(cabinet):
    expert = UserFactory(role=Role.GUEST, organisation=cabinet.government)
    office = api_client(cabinet.office_secretary)
    response = post_json(office, f"/api/v1/items/{cabinet.items[1].pk}/guests", {"user_id": expert.pk})
    assert response.status_code == 201 and [g["id"] for g in response.json()["guests"]] == [expert.pk]
    assert_problem(post_json(office, f"/api/v1/items/{cabinet.items[1].pk}/guests", {"user_id": expert.pk}), 409, "conflict")
    assert_problem(post_json(office, f"/api/v1/items/{cabinet.items[1].pk}/guests", {"user_id": cabinet.members[2].pk}), 422, "invalid_meeting_data")
    guest = api_client(expert)
    assert [i["id"] for i in guest.get(f"/api/v1/meetings/{cabinet.meeting.pk}/items").json()] == [cabinet.items[1].pk]
    assert_problem(guest.get(f"/api/v1/items/{cabinet.items[0].pk}"), 404, "not_found")
    assert audit_count(events.ITEM_GUEST_ADDED) == 1
    assert office.delete(f"/api/v1/items/{cabinet.items[1].pk}/guests/{expert.pk}").status_code == 204
    assert_problem(guest.get(f"/api/v1/meetings/{cabinet.meeting.pk}"), 404, "not_found")


def test_higher_classified_item_is_hidden_from_members_below_it(cabinet):
    secret = AgendaItemFactory(meeting=cabinet.meeting, classification=Clearance.CONFIDENTIAL, proposed_by=cabinet.ministry_secretary)
    member = api_client(cabinet.members[0])
    assert_problem(member.get(f"/api/v1/items/{secret.pk}"), 404, "not_found")
    assert secret.pk not in [i["id"] for i in member.get(f"/api/v1/meetings/{cabinet.meeting.pk}").json()["items"]]
