"""Reminder schedulers as separate processes, for the test that runs two of them at once.

Threads on the test database cannot prove this on SQLite: the test database is an in-memory
shared-cache one, whose table locks ignore the busy timeout. Two processes on a database file (or
on a PostgreSQL database) are what two schedulers really are, so the test runs these commands in
children with the same environment as a server (see ``meetings.tests.live_servers.child_env``):

``python -m ecabinet.notify.tests.schedulers seed --members N``
    a scheduled meeting starting in five hours, its chair and N member participants; prints
    ``{"meeting": id, "attendees": [user ids]}``.
``python -m ecabinet.notify.tests.schedulers run READY GO``
    imports everything, creates the file READY, waits for the file GO, runs every reminder source
    once and prints what ``reminders.run()`` returned.
``python -m ecabinet.notify.tests.schedulers report``
    prints the meeting reminders and reminder claims now in the database.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

GO_TIMEOUT = 120.0


def _seed(members: int) -> dict[str, Any]:
    from datetime import timedelta

    from django.utils import timezone

    from ecabinet.identity.models import Clearance, Role
    from ecabinet.identity.tests.factories import GovernmentFactory, UserFactory
    from ecabinet.meetings.models import Meeting, Participant
    from ecabinet.meetings.tests.factories import MeetingFactory, OfficeFactory

    gov = GovernmentFactory()
    OfficeFactory(parent=gov)
    chair = UserFactory(role=Role.CHAIR, organisation=gov, clearance=Clearance.SECRET)
    starts = timezone.now() + timedelta(hours=5)
    meeting = MeetingFactory(organisation=gov, chair=chair, created_by=chair, state=Meeting.State.SCHEDULED, starts_at=starts)
    people = [UserFactory(role=Role.MEMBER, organisation=gov, clearance=Clearance.SECRET) for _ in range(members)]
    Participant.objects.bulk_create([Participant(meeting=meeting, user=u, kind=Participant.Kind.MEMBER) for u in people])
    return {"meeting": meeting.pk, "attendees": sorted([chair.pk, *[u.pk for u in people]])}


def _run(ready: Path, go: Path) -> dict[str, int]:
    from django.db import connection

    from ecabinet.notify import reminders

    connection.ensure_connection()  # connect before the start line, so both start on equal terms
    ready.touch()
    deadline = time.monotonic() + GO_TIMEOUT
    while not go.exists():
        if time.monotonic() > deadline:
            raise SystemExit("no start signal")
        time.sleep(0.002)
    return reminders.run()


def _report() -> dict[str, Any]:
    from ecabinet.notify import events
    from ecabinet.notify.models import Notification, ReminderSent

    rows = Notification.objects.filter(kind=events.MEETING_REMINDER).values_list("recipient_id", "object_id")
    return {
        "reminded": sorted([recipient, int(object_id)] for recipient, object_id in rows),
        "claims": ReminderSent.objects.filter(kind=events.MEETING_REMINDER).count(),
    }


def main() -> None:
    import django

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    seed = sub.add_parser("seed")
    seed.add_argument("--members", type=int, default=20)
    run = sub.add_parser("run")
    run.add_argument("ready", type=Path)
    run.add_argument("go", type=Path)
    sub.add_parser("report")
    args = parser.parse_args()
    django.setup()
    if args.command == "seed":
        result: Any = _seed(args.members)
    elif args.command == "run":
        result = _run(args.ready, args.go)
    else:
        result = _report()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
