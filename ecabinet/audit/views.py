"""The security officer's view of the audit log."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from ecabinet.audit.models import AuditEntry
from ecabinet.identity import permissions
from ecabinet.web.views import mfa_login_required


@mfa_login_required
def log_view(request: HttpRequest) -> HttpResponse:
    if not permissions.can_view_audit(request.user):  # type: ignore[arg-type]
        return render(request, "web/404.html", status=404)
    entries = AuditEntry.objects.order_by("-seq")[:100]
    return render(request, "audit/log.html", {"entries": entries})
