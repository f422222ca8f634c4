"""Who sees and handles security alerts: the security officers of the alert's government."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from ecabinet.identity.models import Role
from ecabinet.identity.permissions import is_signed_in
from ecabinet.security.models import SecurityAlert


def can_handle_alerts(user: Any) -> bool:
    return is_signed_in(user) and user.role == Role.SECURITY_OFFICER


def visible_alerts(user: Any) -> QuerySet[SecurityAlert]:
    if not can_handle_alerts(user):
        return SecurityAlert.objects.none()
    government = user.organisation.government if user.organisation is not None else None
    if government is None:
        return SecurityAlert.objects.filter(organisation__isnull=True)
    return SecurityAlert.objects.filter(Q(organisation=government) | Q(organisation__isnull=True))
