"""``ecabinet meeting list`` and ``ecabinet meeting show``."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from ecabinet.meetings import actions, tasks
from ecabinet.meetings.models import AgendaItem, Meeting

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("meeting", *args, stdout=out)
    return out.getvalue()


def test_list_shows_id_date_title_state(cabinet):
    text = run("list")
    line = next(line for line in text.splitlines() if line.strip().startswith(str(cabinet.meeting.pk)))
    assert cabinet.meeting.title in line and "scheduled" in line
    assert timezone.localtime(cabinet.meeting.starts_at).strftime("%Y-%m-%d %H:%M") in line
    assert cabinet.meeting.title not in run("list", "--state", "closed")


def test_show_lists_agenda_with_times_and_decisions(cabinet):
    actions.publish_dossier(cabinet.meeting, acting_user=cabinet.office_secretary)
    Meeting.objects.filter(pk=cabinet.meeting.pk).update(positions_deadline=timezone.now())
    tasks.propose_consent_at_deadline(cabinet.meeting.pk)
    actions.remove_from_consent_block(cabinet.items[1], acting_user=cabinet.chair)
    actions.open_session(cabinet.meeting, acting_user=cabinet.chair)
    actions.confirm_consent_block(cabinet.meeting, acting_user=cabinet.chair)
    AgendaItem.objects.filter(pk=cabinet.items[1].pk).update(started_at=timezone.now() - timezone.timedelta(minutes=12), ended_at=timezone.now())
    text = run("show", str(cabinet.meeting.pk))
    assert cabinet.meeting.title in text and "in_session" in text
    for item in cabinet.items:
        assert item.title in text
    assert text.count("Decision (by consent): " + actions.CONSENT_DECISION_TEXT) == 2
    second = next(line for line in text.splitlines() if cabinet.items[1].title in line)
    assert "  15      12  " in second


def test_show_unknown_meeting_fails(db):
    with pytest.raises(CommandError, match="No meeting with id 999999"):
        run("show", "999999")
