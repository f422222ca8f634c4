"""iCalendar (RFC 5545) for meetings: one meeting's ``.ics`` and a user's feed.

A calendar file leaves the system: it is synchronised to phones and calendar services outside
the government's control. So a meeting classified above ``internal`` appears only as
"Phiên họp Chính phủ" at its time, with no title, place or description.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from icalendar import Calendar, Event

from ecabinet.identity.models import Clearance
from ecabinet.meetings.models import Meeting

GENERIC_SUMMARY = "Phiên họp Chính phủ"
PRODID = "-//e-Cabinet//meetings//VI"
STATUS = {
    Meeting.State.CANCELLED: "CANCELLED",
    Meeting.State.DRAFT: "TENTATIVE",
}


def shows_details(meeting: Meeting) -> bool:
    return meeting.classification <= Clearance.INTERNAL


def meeting_event(meeting: Meeting, *, url: str, domain: str) -> Event:
    event = Event()
    event.add("uid", f"meeting-{meeting.pk}@{domain}")
    event.add("dtstamp", datetime.now(UTC).replace(microsecond=0))
    event.add("dtstart", meeting.starts_at.astimezone(UTC))
    event.add("dtend", meeting.planned_end.astimezone(UTC))
    event.add("sequence", meeting.version)
    event.add("status", STATUS.get(meeting.state, "CONFIRMED"))  # type: ignore[call-overload]
    event.add("url", url)
    if shows_details(meeting):
        event.add("summary", meeting.title)
        if meeting.place:
            event.add("location", meeting.place)
        if meeting.online_link:
            event.add("description", meeting.online_link)
    else:
        event.add("summary", GENERIC_SUMMARY)
        event.add("class", "CONFIDENTIAL")
    return event


def calendar(meetings: Iterable[tuple[Meeting, str]], *, domain: str, name: str = "e-Cabinet") -> bytes:
    """A VCALENDAR of the given (meeting, URL) pairs."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    for meeting, url in meetings:
        cal.add_component(meeting_event(meeting, url=url, domain=domain))
    return cal.to_ical()
