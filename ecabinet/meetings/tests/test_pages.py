"""Tablet pages: list, detail with agenda, propose and review, positions, missing, calendar."""

from __future__ import annotations

import pytest
from django.test import Client

from ecabinet.meetings import actions
from ecabinet.meetings.models import AgendaItem, CalendarFeed, Meeting, Position
from ecabinet.meetings.tests.factories import MeetingFactory
from ecabinet.meetings.tests.helpers import signed_in

pytestmark = pytest.mark.django_db


def test_anonymous_is_sent_to_sign_in(cabinet):
    for path in ("/meetings/", f"/meetings/{cabinet.meeting.pk}/", f"/meetings/{cabinet.meeting.pk}/positions/", "/meetings/calendar/"):
        response = Client().get(path)
        assert response.status_code == 302 and "/login/" in response["Location"]


def test_list_shows_only_visible_meetings(cabinet):
    foreign = MeetingFactory(title="Cuộc họp của chính phủ khác")
    page = signed_in(cabinet.members[0]).get("/meetings/").content.decode()
    assert cabinet.meeting.title in page and foreign.title not in page
    assert 'id="new-meeting"' not in page
    assert 'id="new-meeting"' in signed_in(cabinet.office_secretary).get("/meetings/").content.decode()
    assert signed_in(cabinet.members[0]).get(f"/meetings/{foreign.pk}/").status_code == 404


def test_office_secretary_creates_a_meeting_from_the_form(cabinet):
    client = signed_in(cabinet.office_secretary)
    assert client.get("/meetings/new/").status_code == 200
    response = client.post(
        "/meetings/new/",
        {
            "title": "Phiên họp bất thường",
            "kind": "extraordinary",
            "starts_at": "2031-03-02T09:00",
            "planned_end": "2031-03-02T11:00",
            "chair": cabinet.chair.pk,
            "classification": "10",
            "positions_visibility": "all",
        },
    )
    meeting = Meeting.objects.get(title="Phiên họp bất thường")
    assert response.status_code == 302 and response["Location"] == f"/meetings/{meeting.pk}/"
    bad = client.post("/meetings/new/", {"title": "", "kind": "regular"})
    assert bad.status_code == 400 and Meeting.objects.count() == 2
    assert signed_in(cabinet.members[0]).get("/meetings/new/").status_code == 404


def test_detail_offers_drag_reorder_only_to_managers(cabinet):
    secretary_page = signed_in(cabinet.office_secretary).get(f"/meetings/{cabinet.meeting.pk}/").content.decode()
    assert f'data-reorder-url="/api/v1/meetings/{cabinet.meeting.pk}/agenda/order"' in secretary_page
    assert 'draggable="true"' in secretary_page and "meetings/agenda.js" in secretary_page
    assert 'data-transition="publish"' in secretary_page
    member_page = signed_in(cabinet.members[0]).get(f"/meetings/{cabinet.meeting.pk}/").content.decode()
    assert "data-reorder-url" not in member_page and "data-transition" not in member_page
    for item in cabinet.items:
        assert item.title in member_page


def test_transition_button_and_wrong_state_message(cabinet):
    client = signed_in(cabinet.office_secretary)
    response = client.post(f"/meetings/{cabinet.meeting.pk}/transition/publish/", {"version": cabinet.meeting.version}, follow=True)
    assert response.status_code == 200
    cabinet.refresh()
    assert cabinet.meeting.state == Meeting.State.DOSSIER_PUBLISHED
    again = client.post(f"/meetings/{cabinet.meeting.pk}/transition/publish/", follow=True)
    assert "msg error" in again.content.decode()
    member = signed_in(cabinet.members[0]).post(f"/meetings/{cabinet.meeting.pk}/transition/open/", follow=True)
    assert "msg error" in member.content.decode()
    cabinet.refresh()
    assert cabinet.meeting.state == Meeting.State.DOSSIER_PUBLISHED


def test_propose_and_review_pages(cabinet):
    ministry = signed_in(cabinet.ministry_secretary)
    response = ministry.post(
        f"/meetings/{cabinet.meeting.pk}/propose/",
        {"title": "Đề nghị xây dựng Nghị định", "kind": "decision", "planned_minutes": "10", "classification": "10", "document_refs": "A-1\nB-2\n"},
    )
    item = AgendaItem.objects.get(title="Đề nghị xây dựng Nghị định")
    assert response.status_code == 302 and item.document_refs == ["A-1", "B-2"] and item.status == AgendaItem.Status.PROPOSED
    assert signed_in(cabinet.members[0]).get(f"/meetings/{cabinet.meeting.pk}/propose/").status_code == 404
    assert signed_in(cabinet.members[0]).get(f"/meetings/items/{item.pk}/").status_code == 404
    office = signed_in(cabinet.office_secretary)
    assert 'id="review-form"' in office.get(f"/meetings/items/{item.pk}/").content.decode()
    office.post(f"/meetings/items/{item.pk}/", {"op": "return", "comment": "Bổ sung hồ sơ", "version": item.version})
    item.refresh_from_db()
    assert item.status == AgendaItem.Status.RETURNED
    assert "Bổ sung hồ sơ" in ministry.get(f"/meetings/items/{item.pk}/").content.decode()
    ministry.post(f"/meetings/items/{item.pk}/", {"op": "resubmit", "version": item.version})
    item.refresh_from_db()
    assert item.status == AgendaItem.Status.PROPOSED
    office.post(f"/meetings/items/{item.pk}/", {"op": "accept", "version": item.version})
    item.refresh_from_db()
    assert item.status == AgendaItem.Status.ACCEPTED


def test_positions_page_records_a_position(cabinet):
    client = signed_in(cabinet.members[0])
    page = client.get(f"/meetings/{cabinet.meeting.pk}/positions/").content.decode()
    assert page.count('name="stance"') == 5 * len(cabinet.items)
    response = client.post(f"/meetings/{cabinet.meeting.pk}/positions/", {"item": cabinet.items[0].pk, "stance": "abstain", "comment": "Xin kiến"})
    assert response.status_code == 302
    assert Position.objects.get(item=cabinet.items[0], user=cabinet.members[0]).stance == Position.Stance.ABSTAIN
    bad = client.post(f"/meetings/{cabinet.meeting.pk}/positions/", {"item": cabinet.items[1].pk, "stance": "perhaps"}, follow=True)
    assert "msg error" in bad.content.decode() and not Position.objects.filter(item=cabinet.items[1]).exists()
    guest = signed_in(cabinet.guest)
    assert guest.post(f"/meetings/{cabinet.meeting.pk}/positions/", {"item": cabinet.items[0].pk, "stance": "agree"}).status_code == 404
    assert not Position.objects.filter(user=cabinet.guest).exists()


def test_missing_page_for_the_secretary_only(cabinet):
    actions.record_position(cabinet.items[0], acting_user=cabinet.members[0], stance="agree")
    page = signed_in(cabinet.office_secretary).get(f"/meetings/{cabinet.meeting.pk}/positions/missing/").content.decode()
    assert "1 / 5" in page and cabinet.members[1].full_name in page
    assert signed_in(cabinet.members[0]).get(f"/meetings/{cabinet.meeting.pk}/positions/missing/").status_code == 404


def test_calendar_page_shows_the_url_once_and_revokes(cabinet):
    client = signed_in(cabinet.members[0])
    created = client.post("/meetings/calendar/", {"op": "create"}).content.decode()
    assert 'id="feed-url"' in created and "/meetings/calendar/cal_" in created
    assert 'id="feed-url"' not in client.get("/meetings/calendar/").content.decode()
    feed = CalendarFeed.objects.get(user=cabinet.members[0])
    client.post("/meetings/calendar/", {"op": "revoke", "feed": feed.pk})
    feed.refresh_from_db()
    assert feed.revoked_at is not None
    assert signed_in(cabinet.members[1]).post("/meetings/calendar/", {"op": "revoke", "feed": feed.pk}).status_code == 404


def test_meeting_ics_download_page(cabinet):
    response = signed_in(cabinet.members[0]).get(f"/meetings/{cabinet.meeting.pk}/meeting.ics")
    assert response.status_code == 200 and b"BEGIN:VEVENT" in response.content
    assert 'filename="meeting-' in response["Content-Disposition"]
