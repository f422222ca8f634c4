"""iCalendar: the per-meeting .ics and the per-user secret feed."""

from __future__ import annotations

from datetime import UTC

import pytest
from django.test import Client
from icalendar import Calendar

from ecabinet.identity.models import Clearance
from ecabinet.meetings import actions, events
from ecabinet.meetings.models import CalendarFeed, Participant
from ecabinet.meetings.tests.factories import MeetingFactory
from ecabinet.meetings.tests.helpers import api_client, assert_problem, audit_count, post_json

pytestmark = pytest.mark.django_db


def events_of(response):
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/calendar")
    return [c for c in Calendar.from_ical(response.content).walk("VEVENT")]


def test_meeting_ics_has_a_correct_vevent(cabinet):
    meeting = cabinet.meeting
    [event] = events_of(api_client(cabinet.members[0]).get(f"/api/v1/meetings/{meeting.pk}/calendar.ics"))
    assert str(event["uid"]).startswith(f"meeting-{meeting.pk}@")
    assert event.decoded("dtstart") == meeting.starts_at.astimezone(UTC)
    assert event.decoded("dtstart").tzinfo is not None and event.decoded("dtstart").utcoffset().total_seconds() == 0
    assert event.decoded("dtend") == meeting.planned_end.astimezone(UTC)
    assert str(event["summary"]) == meeting.title and str(event["location"]) == meeting.place
    assert str(event["url"]).endswith(f"/meetings/{meeting.pk}/")
    assert str(event["status"]) == "CONFIRMED" and int(event["sequence"]) == meeting.version


def test_cancelled_meeting_is_cancelled_with_a_higher_sequence(cabinet):
    actions.cancel_meeting(cabinet.meeting, acting_user=cabinet.office_secretary)
    [event] = events_of(api_client(cabinet.members[0]).get(f"/api/v1/meetings/{cabinet.meeting.pk}/calendar.ics"))
    assert str(event["status"]) == "CANCELLED" and int(event["sequence"]) == 2


def test_ics_of_an_invisible_meeting_is_404_and_anonymous_401(cabinet):
    foreign = MeetingFactory()
    assert_problem(api_client(cabinet.members[0]).get(f"/api/v1/meetings/{foreign.pk}/calendar.ics"), 404, "not_found")
    assert_problem(Client().get(f"/api/v1/meetings/{cabinet.meeting.pk}/calendar.ics"), 401, "not_authenticated")
    assert Client().get(f"/meetings/{cabinet.meeting.pk}/meeting.ics").status_code == 302


def test_feed_lists_visible_meetings_and_hides_classified_titles(cabinet):
    member = cabinet.members[0]
    member.clearance = Clearance.SECRET
    member.save()
    secret = MeetingFactory(organisation=cabinet.government, chair=cabinet.chair, classification=Clearance.SECRET, title="Kế hoạch quốc phòng")
    Participant.objects.create(meeting=secret, user=member, kind=Participant.Kind.MEMBER)
    MeetingFactory()  # another government's meeting
    MeetingFactory(organisation=cabinet.government, chair=cabinet.chair)  # not invited
    client = api_client(member)
    created = post_json(client, "/api/v1/calendar/feeds", {})
    assert created.status_code == 201
    url = created.json()["url"]
    assert "/meetings/calendar/cal_" in url
    assert audit_count(events.CALENDAR_FEED_CREATED, actor=member) == 1
    # The URL is shown once: listing feeds never shows it again.
    assert "url" not in client.get("/api/v1/calendar/feeds").json()[0]
    path = url.split("testserver", 1)[1]
    found = {int(str(e["uid"]).split("-")[1].split("@")[0]): e for e in events_of(Client().get(path))}
    assert set(found) == {cabinet.meeting.pk, secret.pk}
    assert str(found[secret.pk]["summary"]) == "Phiên họp Chính phủ"
    assert "location" not in found[secret.pk] and "Kế hoạch" not in Client().get(path).content.decode()
    assert str(found[cabinet.meeting.pk]["summary"]) == cabinet.meeting.title


def test_revoked_and_unknown_feeds_are_404(cabinet):
    client = api_client(cabinet.members[1])
    created = post_json(client, "/api/v1/calendar/feeds", {}).json()
    path = created["url"].split("testserver", 1)[1]
    assert Client().get(path).status_code == 200
    assert client.delete(f"/api/v1/calendar/feeds/{created['id']}").json()["revoked_at"]
    assert Client().get(path).status_code == 404
    assert Client().get("/meetings/calendar/cal_not-a-token.ics").status_code == 404
    assert_problem(client.delete(f"/api/v1/calendar/feeds/{created['id']}"), 409, "conflict")
    # Someone else's feed does not exist for you.
    assert_problem(api_client(cabinet.members[2]).delete(f"/api/v1/calendar/feeds/{created['id']}"), 404, "not_found")
    assert audit_count(events.CALENDAR_FEED_REVOKED) == 1
    assert CalendarFeed.objects.get(pk=created["id"]).token_hash not in created["url"]


def test_anonymous_cannot_create_feeds():
    assert_problem(post_json(Client(), "/api/v1/calendar/feeds", {}), 401, "not_authenticated")
    assert not CalendarFeed.objects.exists()
