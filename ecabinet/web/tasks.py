"""Background tasks of the shell.

``ping`` is how an operator (and the end-to-end tests) prove that a worker is alive, reads the
same configuration and can write to the database: it leaves one audit entry per token.
"""

from __future__ import annotations

from celery import shared_task

from ecabinet.audit.actions import record
from ecabinet.audit.models import AuditEntry

WORKER_PING = "web.worker.ping"


@shared_task(name="ecabinet.web.tasks.ping")
def ping(token: str) -> bool:
    """Record that a worker ran this task. Idempotent: a token is recorded once, however often it runs."""
    token = str(token)[:64]
    if AuditEntry.objects.filter(event=WORKER_PING, details__token=token).exists():
        return False
    record(WORKER_PING, details={"token": token})
    return True
