"""Background work of the documents app. Tasks take ids, re-read the rows and are idempotent."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from ecabinet.documents import pipeline
from ecabinet.documents.models import DocumentVersion


@shared_task(bind=True, autoretry_for=(OSError,), retry_backoff=True, retry_backoff_max=600, max_retries=8)
def process_version(self: Any, version_id: int) -> str:
    """Run a new version through the pipeline. A version held because a scanner is down is
    picked up again by ``retry_held`` on the beat schedule, not by retrying here, so a long
    scanner outage does not pile retries up in the broker."""
    return pipeline.process_version(version_id)


@shared_task(name="ecabinet.documents.tasks.retry_held")
def retry_held() -> dict[str, int]:
    counts: dict[str, int] = {}
    for version_id in DocumentVersion.objects.filter(state=DocumentVersion.State.HELD).values_list("pk", flat=True)[:500]:
        state = pipeline.process_version(version_id)
        counts[state] = counts.get(state, 0) + 1
    return counts
