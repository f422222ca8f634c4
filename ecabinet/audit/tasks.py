"""Background work of the audit log: the periodic signed checkpoint (beat entry "audit-checkpoint")."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError

from ecabinet.audit import actions, errors

log = logging.getLogger(__name__)


@shared_task(
    name="ecabinet.audit.tasks.make_checkpoint",
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    retry_backoff_max=300,
    retry_kwargs={"max_retries": 5},
)
def make_checkpoint() -> int | None:
    """Sign the current tree head; a no-op when no entry was added since the last checkpoint.

    Returns the size of the newest checkpoint (None while the log is empty or broken). A broken
    log is not retried: the refusal is in the log and the error log, and retrying changes nothing.
    """
    try:
        checkpoint, created = actions.make_checkpoint()
    except errors.ChainBroken:
        return None
    if checkpoint is not None and created:
        log.info("audit checkpoint signed at size %s", checkpoint.size)
    return checkpoint.size if checkpoint is not None else None
