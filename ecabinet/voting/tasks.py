"""Background work of the voting app: closing polls at their deadline. Idempotent, by id."""

from __future__ import annotations

from celery import shared_task

from ecabinet.voting import actions
from ecabinet.voting.models import Poll


@shared_task(bind=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def close_poll_at_deadline(self: object, poll_id: int) -> bool:
    """Queued with ``eta`` = the deadline when the poll opens. Early runs, duplicates and polls the
    chair already closed do nothing."""
    poll = Poll.objects.filter(pk=poll_id).first()
    if poll is None:
        return False
    return actions.close_poll(poll, acting_user=None, at_deadline=True).state == Poll.State.CLOSED


@shared_task(bind=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=3)
def close_due_polls(self: object) -> list[int]:
    """Every minute (beat): close what a lost eta task left open."""
    return actions.close_due_polls()


@shared_task(bind=True, autoretry_for=(), max_retries=0)
def seal_approved_minutes(self: object, meeting_id: int) -> int | None:
    """Seal the approved minutes with the office seal, once. No seal configured: nothing to do."""
    import logging

    from ecabinet.errors import ECabinetError
    from ecabinet.meetings.models import Minutes
    from ecabinet.voting import decisions, errors

    minutes = Minutes.objects.select_related("meeting", "approved_by").filter(meeting_id=meeting_id).first()
    if minutes is None or minutes.state != Minutes.State.APPROVED or minutes.approved_by is None:
        return None
    try:
        return decisions.sign_minutes(minutes.meeting, acting_user=minutes.approved_by).pk
    except errors.SealUnavailable:
        logging.getLogger(__name__).info("minutes of meeting %s approved; no office seal yet, so not sealed", meeting_id)
        return None
    except ECabinetError as exc:
        # The approval stands; the seal can be applied later on demand (POST .../minutes/signed).
        logging.getLogger(__name__).error("sealing the minutes of meeting %s failed: %s %s", meeting_id, exc.code, exc.detail)
        return None
