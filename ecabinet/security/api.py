"""Security alerts for the security officer, and the scanner's state."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router

from ecabinet import errors as base_errors
from ecabinet.identity.auth import api_user, session_or_token
from ecabinet.security import actions, permissions, scanning
from ecabinet.security.models import SecurityAlert
from ecabinet.security.schemas import AcknowledgeIn, AlertOut, ScannerOut
from ecabinet.web.net import client_ip

router = Router(auth=session_or_token, tags=["security"])


def _officer(request: HttpRequest) -> Any:
    user = api_user(request)
    if not permissions.can_handle_alerts(user):
        raise base_errors.Forbidden("Only the security officer handles security alerts.")
    return user


@router.get("/alerts", response=list[AlertOut], summary="Security alerts, newest first")
def list_alerts(request: HttpRequest, unacknowledged: bool = False, kind: str | None = None) -> Any:
    user = _officer(request)
    qs = permissions.visible_alerts(user)
    if unacknowledged:
        qs = qs.filter(acknowledged_at__isnull=True)
    if kind:
        qs = qs.filter(kind=kind)
    return qs[:500]


@router.post("/alerts/{alert_id}/acknowledge", response=AlertOut, summary="Mark an alert as seen and handled")
def acknowledge(request: HttpRequest, alert_id: int, payload: AcknowledgeIn) -> SecurityAlert:
    user = _officer(request)
    alert = permissions.visible_alerts(user).filter(pk=alert_id).first()
    if alert is None:
        raise base_errors.NotFound()
    return actions.acknowledge_alert(alert, acting_user=user, note=payload.note, source_ip=client_ip(request))


@router.get("/scanner", response=ScannerOut, summary="YARA rules and ClamAV reachability")
def scanner_state(request: HttpRequest) -> dict[str, Any]:
    _officer(request)
    return scanning.scanner_status()
