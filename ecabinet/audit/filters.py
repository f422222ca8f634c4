"""The filters the security officer's page, the API and the export share."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from ecabinet.audit.models import AuditEntry


@dataclass(frozen=True)
class AuditFilter:
    event: str = ""
    actor: str = ""
    object_type: str = ""
    object_id: str = ""
    date_from: date | None = None
    date_to: date | None = None
    q: str = ""

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> AuditFilter:
        def text(name: str) -> str:
            return str(values.get(name) or "").strip()[:200]

        return cls(
            event=text("event"),
            actor=text("actor"),
            object_type=text("object_type"),
            object_id=text("object_id"),
            date_from=values.get("date_from") or None,
            date_to=values.get("date_to") or None,
            q=text("q"),
        )

    def is_empty(self) -> bool:
        return self == AuditFilter()

    def as_details(self) -> dict[str, str]:
        """For the audit entry that records an export: only what was set, dates as ISO text."""
        return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in asdict(self).items() if v}

    def apply(self, queryset: QuerySet[AuditEntry]) -> QuerySet[AuditEntry]:
        if self.event:
            # "identity.login" also finds identity.login.ok, identity.login.failed, ...
            queryset = queryset.filter(Q(event=self.event) | Q(event__startswith=self.event + "."))
        if self.actor:
            queryset = queryset.filter(Q(actor_label__icontains=self.actor) | Q(actor__full_name__icontains=self.actor))
        if self.object_type:
            queryset = queryset.filter(object_type=self.object_type)
        if self.object_id:
            queryset = queryset.filter(object_id=self.object_id)
        zone = timezone.get_current_timezone()
        if self.date_from:
            queryset = queryset.filter(created_at__gte=datetime.combine(self.date_from, time.min, tzinfo=zone))
        if self.date_to:
            queryset = queryset.filter(created_at__lt=datetime.combine(self.date_to + timedelta(days=1), time.min, tzinfo=zone))
        if self.q:
            # SQLite keeps JSON text with non-ASCII letters escaped (\u1ec5), PostgreSQL as letters:
            # look for both spellings so "Nguyễn" is found on either.
            escaped = json.dumps(self.q)[1:-1]
            match = Q(details__icontains=self.q) | Q(object_id__icontains=self.q)
            if escaped != self.q:
                match |= Q(details__icontains=escaped)
            queryset = queryset.filter(match)
        return queryset
