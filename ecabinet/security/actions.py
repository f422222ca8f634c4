"""Raising and acknowledging security alerts; each writes its audit entry."""

from __future__ import annotations

from typing import Any

from django.db import models, transaction
from django.utils import timezone

from ecabinet.audit.actions import record
from ecabinet.identity.models import Organisation
from ecabinet.security import errors, events
from ecabinet.security.models import SecurityAlert


def raise_alert(
    kind: str,
    *,
    severity: str,
    summary: str,
    obj: models.Model | None = None,
    organisation: Organisation | None = None,
    details: dict[str, Any] | None = None,
    acting_user: Any = None,
    source_ip: str | None = None,
) -> SecurityAlert:
    """Record an alert for the security officers of ``organisation``'s government.

    Callers that are about to refuse a request call this outside the transaction they roll back,
    so the alert and its audit entry stay.
    """
    government = organisation.government if organisation is not None else None
    with transaction.atomic():
        alert = SecurityAlert.objects.create(
            organisation=government,
            kind=kind,
            severity=severity,
            summary=summary[:500],
            object_type=obj._meta.label_lower if obj is not None else "",
            object_id=str(obj.pk) if obj is not None else "",
            details=details or {},
        )
        record(
            events.ALERT_RAISED,
            actor=acting_user,
            obj=alert,
            source_ip=source_ip,
            details={"kind": kind, "severity": severity, "summary": alert.summary, "object": f"{alert.object_type}:{alert.object_id}", **(details or {})},
        )
        from ecabinet.notify import hooks

        hooks.security_alert(alert, acting_user=acting_user)
    return alert


def acknowledge_alert(alert: SecurityAlert, *, acting_user: Any, note: str = "", source_ip: str | None = None) -> SecurityAlert:
    with transaction.atomic():
        locked = SecurityAlert.objects.select_for_update().get(pk=alert.pk)
        if locked.acknowledged_at is not None:
            raise errors.AlertAlreadyAcknowledged(f"Acknowledged by {locked.acknowledged_by} at {locked.acknowledged_at:%Y-%m-%d %H:%M}.")
        locked.acknowledged_by = acting_user
        locked.acknowledged_at = timezone.now()
        locked.acknowledgement_note = note
        locked.save(update_fields=["acknowledged_by", "acknowledged_at", "acknowledgement_note"])
        record(events.ALERT_ACKNOWLEDGED, actor=acting_user, obj=locked, source_ip=source_ip, details={"kind": locked.kind, "note": note})
    return locked
