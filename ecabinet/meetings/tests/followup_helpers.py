"""Set-up shared by the after-the-session tests (test_followup*, test_minutes*, test_report*).

``hold_session`` writes a whole session record straight into the database (the live actions that
produce it are tested in test_live_*): the meeting opened at 08:00 and
adjourned at 09:30 against a planned two hours, items timed, attendance with a remote member, a
substitute and an absentee, speakers with their times, positions, and item 3 adopted by consent.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.test import Client
from django.utils import timezone

from ecabinet.identity import actions as identity_actions
from ecabinet.identity.models import Role, User
from ecabinet.identity.tests.factories import UserFactory
from ecabinet.meetings.models import AgendaItem, Attendance, Decision, Meeting, Position, SpeakerRequest
from ecabinet.meetings.tests.factories import AttendanceFactory, DecisionFactory, PositionFactory

CONSENT_TEXT = "Thông qua Báo cáo; giao Bộ Tài chính tiếp thu ý kiến, hoàn thiện và đôn đốc thực hiện."


@dataclass
class Session:
    start: datetime
    end: datetime
    substitute: User


def signed_in(user: Any) -> Client:
    """A browser client past both sign-in steps (the sign-in itself is tested in identity)."""
    client = Client()
    client.force_login(user)
    session = client.session
    now = int(time.time())
    session[identity_actions.SESSION_MFA] = True
    session[identity_actions.SESSION_LOGIN_AT] = now
    session[identity_actions.SESSION_SEEN_AT] = now
    session.save()
    return client


def post(client: Client, path: str, body: Any = None) -> Any:
    return client.post(path, data=json.dumps(body if body is not None else {}), content_type="application/json")


def put(client: Client, path: str, body: Any) -> Any:
    return client.put(path, data=json.dumps(body), content_type="application/json")


def patch(client: Client, path: str, body: Any) -> Any:
    return client.patch(path, data=json.dumps(body), content_type="application/json")


def hold_session(cabinet: Any, *, state: str = Meeting.State.ADJOURNED) -> Session:
    meeting = cabinet.meeting
    start = timezone.localtime(meeting.starts_at).replace(hour=8, minute=0, second=0)
    Meeting.objects.filter(pk=meeting.pk).update(starts_at=start, planned_end=start + timedelta(hours=2))
    chair, m1, m2, m3, _m4 = cabinet.chair, *cabinet.members
    substitute = UserFactory(role=Role.MEMBER, organisation=cabinet.ministry, full_name="Thứ trưởng Lê Thị Hương", title="Thứ trưởng")
    AttendanceFactory(meeting=meeting, user=chair, checked_in_at=start)
    AttendanceFactory(meeting=meeting, user=m1, checked_in_at=start)
    AttendanceFactory(meeting=meeting, user=m2, mode=Attendance.Mode.REMOTE, checked_in_at=start)
    AttendanceFactory(
        meeting=meeting, user=substitute, mode=Attendance.Mode.SUBSTITUTE, substitute_for=m3, checked_in_at=start, checked_in_by=cabinet.office_secretary
    )
    # Item 1: planned 15 min, took 20, two speakers (3 min 20 s and 2 min).
    item1, item2, item3 = cabinet.items
    _time_item(item1, start + timedelta(minutes=1), 20)
    _speaker(item1, m2, start + timedelta(minutes=5), 200)
    _speaker(item1, m1, start + timedelta(minutes=10), 120)
    # Item 2: planned 15 min, took 10, nobody spoke.
    _time_item(item2, start + timedelta(minutes=22), 10)
    for user, stance in ((m1, Position.Stance.AGREE), (m2, Position.Stance.OBJECT), (m3, Position.Stance.WISH_TO_SPEAK)):
        PositionFactory(item=item1, user=user, stance=stance)
    for user in (chair, m1, m2, m3):
        PositionFactory(item=item3, user=user, stance=Position.Stance.AGREE)
    # Item 3 settled before the session by the consent block.
    DecisionFactory(item=item3, text=CONSENT_TEXT, by_consent=True, recorded_by=chair)
    AgendaItem.objects.filter(pk=item3.pk).update(outcome=AgendaItem.Outcome.ADOPTED_BY_CONSENT, in_consent_block=True)
    end = start + timedelta(minutes=90)
    fields: dict[str, Any] = {"state": state, "opened_at": start, "adjourned_at": end, "consent_confirmed_at": start}
    if state == Meeting.State.CLOSED:
        fields["closed_at"] = end + timedelta(hours=1)
    if state == Meeting.State.IN_SESSION:
        fields["adjourned_at"] = None
    Meeting.objects.filter(pk=meeting.pk).update(**fields)
    cabinet.refresh()
    return Session(start=start, end=end, substitute=substitute)


def _time_item(item: AgendaItem, started: datetime, minutes: int) -> None:
    AgendaItem.objects.filter(pk=item.pk).update(started_at=started, ended_at=started + timedelta(minutes=minutes))


def _speaker(item: AgendaItem, user: User, granted: datetime, seconds: int) -> SpeakerRequest:
    return SpeakerRequest.objects.create(
        item=item,
        user=user,
        state=SpeakerRequest.State.DONE,
        requested_at=granted - timedelta(minutes=1),
        granted_at=granted,
        ended_at=granted + timedelta(seconds=seconds),
    )


def decide(cabinet: Any, item: AgendaItem, text: str = "Thống nhất thông qua dự thảo Nghị định; giao Bộ Tài chính hoàn thiện.") -> Decision:
    """A decision recorded in session (set-up; recording is tested in test_followup_decisions)."""
    decision: Decision = DecisionFactory(item=item, text=text, recorded_by=cabinet.chair)
    AgendaItem.objects.filter(pk=item.pk).update(outcome=AgendaItem.Outcome.DECIDED)
    item.refresh_from_db()
    return decision
