"""Background work of the meetings app. Tasks take ids, re-read the rows and are idempotent."""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from ecabinet.meetings import actions
from ecabinet.meetings.models import Meeting

log = logging.getLogger(__name__)


@shared_task(bind=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def propose_consent_at_deadline(self: object, meeting_id: int) -> list[int]:
    """At the positions deadline, propose the consent block to the chair, once.

    Queued with ``eta`` = the deadline when the dossier is published (and again when the deadline
    moves). A run before the deadline, after the block was proposed, or on a meeting no longer
    awaiting its session does nothing, so duplicates and early runs are harmless.
    """
    meeting = Meeting.objects.filter(pk=meeting_id).first()
    if meeting is None or meeting.state != Meeting.State.DOSSIER_PUBLISHED:
        return []
    if meeting.consent_proposed_at is not None or meeting.positions_deadline is None:
        return []
    if timezone.now() < meeting.positions_deadline:
        log.info("consent task for meeting %s ran before its deadline; the task queued for the deadline will do it", meeting_id)
        return []
    items = actions.propose_consent_block(meeting, acting_user=None, only_once=True)
    return [item.pk for item in items]
