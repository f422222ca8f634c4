"""Reminders computed from the data each time the scheduler runs, not timers stored in advance:
a meeting moved or a deadline changed is simply seen at its new time.

Each reminder is claimed per (kind, object, recipient, window) in ``ReminderSent`` (unique key),
so any number of schedulers may run this at once and each person is reminded once.

Other apps add their own sources with ``register(source)``: a function ``source(now)`` that
calls ``actions.remind_once`` and returns how many people it reminded (voting: polls and written
consultations closing in N hours, for those who have not voted).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from django.apps import apps
from django.db.models import Q
from django.utils import timezone

from ecabinet.identity.models import User
from ecabinet.meetings.models import AgendaItem, FollowUpTask, Meeting, Participant, Position
from ecabinet.notify import actions, events
from ecabinet.notify.models import Urgency

Source = Callable[[datetime], int]
SOURCES: dict[str, Source] = {}


def register(name: str, source: Source) -> Source:
    SOURCES[name] = source
    return source


UPCOMING = (Meeting.State.SCHEDULED, Meeting.State.DOSSIER_PUBLISHED)


def _attendees(meeting: Meeting) -> list[User]:
    ids = set(Participant.objects.filter(meeting=meeting).values_list("user_id", flat=True)) | {meeting.chair_id}
    return list(User.objects.filter(pk__in=ids, is_active=True))


def meetings_soon(now: datetime) -> int:
    """24 h and 1 h before a meeting; the 1 h window supersedes the 24 h one when both are due."""
    count = 0
    for meeting in Meeting.objects.filter(state__in=UPCOMING, starts_at__gt=now, starts_at__lte=now + timedelta(hours=24)):
        window = "1h" if meeting.starts_at <= now + timedelta(hours=1) else "24h"
        urgency = Urgency.URGENT if window == "1h" else Urgency.NORMAL
        count += len(
            actions.remind_once(
                events.MEETING_REMINDER, obj=meeting, recipients=_attendees(meeting), window=window, urgency=urgency, context={"window": window}
            )
        )
    return count


def positions_due(now: datetime) -> int:
    """Members who have not recorded a position on every decision item, 24 h before the deadline."""
    count = 0
    meetings = Meeting.objects.filter(state=Meeting.State.DOSSIER_PUBLISHED, positions_deadline__gt=now, positions_deadline__lte=now + timedelta(hours=24))
    for meeting in meetings:
        items = list(meeting.items.filter(status=AgendaItem.Status.ACCEPTED, kind=AgendaItem.Kind.DECISION).values_list("pk", flat=True))
        if not items:
            continue
        voters = set(Participant.objects.filter(meeting=meeting, kind=Participant.Kind.MEMBER).values_list("user_id", flat=True)) | {meeting.chair_id}
        answered: dict[int, int] = {}
        for user_id in Position.objects.filter(item_id__in=items).values_list("user_id", flat=True):
            answered[user_id] = answered.get(user_id, 0) + 1
        missing = User.objects.filter(pk__in=[u for u in voters if answered.get(u, 0) < len(items)], is_active=True)
        count += len(actions.remind_once(events.POSITIONS_DUE, obj=meeting, recipients=missing, window="24h"))
    return count


def dossier_unread(now: datetime) -> int:
    """Members who have not opened a published dossier, once, 48 h before the meeting."""
    count = 0
    for meeting in Meeting.objects.filter(state=Meeting.State.DOSSIER_PUBLISHED, starts_at__gt=now, starts_at__lte=now + timedelta(hours=48)):
        unread = actions.dossier_unread(meeting)
        count += len(actions.remind_once(events.DOSSIER_NUDGE, obj=meeting, recipients=unread, window="48h"))
    return count


def tasks_due(now: datetime) -> int:
    """Daily: tasks due today or tomorrow, and overdue ones (one reminder per task per day)."""
    today = timezone.localdate(now)
    count = 0
    open_tasks = FollowUpTask.objects.exclude(state=FollowUpTask.State.DONE).filter(due_date__lte=today + timedelta(days=1))
    for task in open_tasks.select_related("decision__item__meeting", "assignee_org"):
        overdue = task.due_date < today
        people = (
            [task.assignee]
            if task.assignee_id
            else list(User.objects.filter(organisation_id=task.assignee_org_id, is_active=True).filter(Q(role="member") | Q(role="secretary")))
        )
        kind = events.TASK_OVERDUE if overdue else events.TASK_DUE
        count += len(actions.remind_once(kind, obj=task, recipients=[p for p in people if p is not None], window=today.isoformat()))
    return count


# How long before a poll's deadline its voters who have not voted are reminded (urgent: push).
POLL_CLOSING_HOURS = 2


def polls_closing(now: datetime) -> int:
    """Open polls closing within ``POLL_CLOSING_HOURS``: remind the eligible voters who have not voted."""
    if not apps.is_installed("ecabinet.voting"):
        return 0
    from ecabinet.voting.models import Ballot, Poll, PollVoter

    count = 0
    closing = Poll.objects.filter(state=Poll.State.OPEN, deadline__gt=now, deadline__lte=now + timedelta(hours=POLL_CLOSING_HOURS))
    for poll in closing:
        voted = Ballot.objects.filter(poll=poll).values("voter_id")
        waiting = User.objects.filter(pk__in=PollVoter.objects.filter(poll=poll).exclude(user_id__in=voted).values("user_id"), is_active=True)
        kind = events.CONSULTATION_DUE if poll.kind == Poll.Kind.CONSULTATION else events.VOTE_CLOSING
        count += len(
            actions.remind_once(
                kind, obj=poll, recipients=waiting, window=f"{POLL_CLOSING_HOURS}h", urgency=Urgency.URGENT, context={"hours": POLL_CLOSING_HOURS}
            )
        )
    return count


register("meetings_soon", meetings_soon)
register("positions_due", positions_due)
register("dossier_unread", dossier_unread)
register("tasks_due", tasks_due)
register("polls_closing", polls_closing)


def run(now: datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    return {name: source(now) for name, source in SOURCES.items()}
