"""The live snapshot (GET /api/v1/meetings/{id}/live) and the tablet page meetings/<id>/live/."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from ecabinet.identity.models import Clearance, Role
from ecabinet.identity.tests.factories import UserFactory
from ecabinet.identity.tests.test_api_auth import assert_problem
from ecabinet.meetings import live
from ecabinet.meetings.models import AgendaItem, Meeting
from ecabinet.meetings.tests.factories import AgendaItemFactory, ItemGuestFactory
from ecabinet.meetings.tests.live_helpers import base, open_session, signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def session(cabinet):
    open_session(cabinet.meeting)
    cabinet.secret = AgendaItemFactory(meeting=cabinet.meeting, order=9, classification=Clearance.SECRET, proposed_by=cabinet.ministry_secretary)
    cabinet.chair.clearance = Clearance.SECRET
    cabinet.chair.save(update_fields=["clearance"])
    return cabinet


def test_chair_sees_everything_with_timer_fields(session):
    live.check_in(session.meeting, acting_user=session.members[0])
    live.start_item(session.items[0], acting_user=session.chair)
    live.request_floor(session.items[0], acting_user=session.members[0])
    snap = signed_in(session.chair).get(f"{base(session.meeting)}/live").json()
    assert snap["meeting"]["state"] == "in_session"
    assert [i["id"] for i in snap["items"]] == [*(i.pk for i in session.items), session.secret.pk]
    running = snap["running_item"]
    assert running["id"] == session.items[0].pk and running["planned_minutes"] == 15 and running["started_at"] and running["overrun"] is False
    assert snap["attendance"]["present"][0]["user"]["id"] == session.members[0].pk
    assert snap["speakers"][str(session.items[0].pk)][0]["user"]["id"] == session.members[0].pk
    assert snap["you"]["can_run_session"] is True


def test_a_member_below_an_items_classification_never_learns_of_it(session):
    live.start_item(session.secret, acting_user=session.chair)
    snap = signed_in(session.members[0]).get(f"{base(session.meeting)}/live").json()
    assert session.secret.pk not in [i["id"] for i in snap["items"]]
    assert str(session.secret.pk) not in snap["speakers"]
    assert snap["running_item"] is None
    assert snap["you"]["can_run_session"] is False and snap["you"]["may_request_floor"] == [i.pk for i in session.items]


def test_guest_invited_to_one_item_sees_that_item_only(session):
    Meeting.objects.filter(pk=session.meeting.pk).update(classification=Clearance.CONFIDENTIAL)
    expert = UserFactory(role=Role.GUEST, organisation=session.government, clearance=Clearance.INTERNAL)
    ItemGuestFactory(item=session.items[1], user=expert)
    snap = signed_in(expert).get(f"{base(session.meeting)}/live").json()
    assert [i["id"] for i in snap["items"]] == [session.items[1].pk]
    # below the meeting's classification: no attendance list
    assert snap["attendance"] is None


def test_anonymous_outsiders_and_unknown_meetings(session):
    path = f"{base(session.meeting)}/live"
    assert_problem(Client().get(path), 401, "not_authenticated")
    for user in (UserFactory(role=Role.MEMBER, organisation=session.government), UserFactory(role=Role.CHAIR)):
        assert_problem(signed_in(user).get(path), 404, "not_found")
    assert_problem(signed_in(session.chair).get("/api/v1/meetings/999999/live"), 404, "not_found")
    low = UserFactory(role=Role.SECRETARY, organisation=session.office, clearance=Clearance.INTERNAL)
    Meeting.objects.filter(pk=session.meeting.pk).update(classification=Clearance.SECRET)
    assert_problem(signed_in(low).get(path), 404, "not_found")


def test_the_tablet_page(session):
    live.start_item(session.items[0], acting_user=session.chair)
    response = signed_in(session.members[0]).get(f"/meetings/{session.meeting.pk}/live/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'data-ws-path="/ws/meetings/{session.meeting.pk}/"' in html and "meetings/live.js" in html
    start = html.index('id="live-snapshot"')
    snap = json.loads(html[html.index(">", start) + 1 : html.index("</script>", start)])
    assert snap["running_item"]["id"] == session.items[0].pk
    assert session.secret.title not in html
    # The script is an ES module served locally (no CDN).
    assert 'type="module"' in html and "https://" not in html.split('id="live-snapshot"')[0].split("<main")[1]


def test_the_tablet_page_refuses_anonymous_outsiders_and_unfinished_sign_in(session):
    path = f"/meetings/{session.meeting.pk}/live/"
    response = Client().get(path)
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert signed_in(UserFactory(role=Role.MEMBER, organisation=session.government)).get(path).status_code == 404
    assert signed_in(session.members[0], mfa=False).get(path).status_code == 302


def test_the_fast_visibility_used_by_the_live_channel_agrees_with_can_see_item(session):
    from ecabinet.meetings import permissions

    meeting = session.meeting
    AgendaItemFactory(meeting=meeting, status=AgendaItem.Status.PROPOSED, proposed_by=session.ministry_secretary)
    AgendaItemFactory(meeting=meeting, status=AgendaItem.Status.RETURNED, proposed_by=session.office_secretary, classification=Clearance.CONFIDENTIAL)
    expert = UserFactory(role=Role.GUEST, organisation=session.government)
    ItemGuestFactory(item=session.items[2], user=expert)
    ItemGuestFactory(item=AgendaItemFactory(meeting=meeting, status=AgendaItem.Status.PROPOSED, proposed_by=session.ministry_secretary), user=expert)
    people = [
        session.chair,
        *session.members,
        session.guest,
        expert,
        session.office_secretary,
        session.ministry_secretary,
        UserFactory(role=Role.MEMBER, organisation=session.government),
        UserFactory(role=Role.SECRETARY, organisation=session.office, clearance=Clearance.CONFIDENTIAL),
    ]
    for user in people:
        slow = [item.pk for item in permissions.visible_items(user, meeting)]
        fast = [item.pk for item in permissions.visible_items_at_once(user, meeting)]
        assert fast == slow, user.username
        items = permissions.visible_items(user, meeting)
        if items:
            assert permissions.may_request_floor_on_visible(user, meeting) == all(permissions.can_request_floor(user, item) for item in items)
            assert any(permissions.can_request_floor(user, item) for item in items) == permissions.may_request_floor_on_visible(user, meeting)
