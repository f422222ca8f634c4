"""The daily follow-up job (beat entry "meetings-overdue-tasks").

It takes no arguments and changes nothing, so running it twice the same day is harmless. It
lists the tasks that are overdue and logs how many there are per ministry; the notify app will
send the reminders from the same list. People see overdue tasks at /api/v1/tasks/overdue and on
the "my tasks" page, which compute the same thing on request.
"""

from __future__ import annotations

import logging
from collections import Counter

from celery import shared_task
from django.db import InterfaceError, OperationalError

from ecabinet.meetings.followup import overdue_tasks

log = logging.getLogger(__name__)


@shared_task(
    name="ecabinet.meetings.followup_tasks.list_overdue_tasks",
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    retry_backoff_max=600,
    retry_kwargs={"max_retries": 5},
)
def list_overdue_tasks() -> list[int]:
    """The ids of today's overdue tasks, oldest due first."""
    tasks = overdue_tasks()
    per_ministry = Counter(task.assignee_org.name for task in tasks)
    for ministry, count in sorted(per_ministry.items()):
        log.info("overdue follow-up tasks: %s has %d", ministry, count)
    return [task.pk for task in tasks]
