"""The security officer's view of the audit log: filters, pages, integrity banner, export."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from ecabinet.audit import actions, checks, permissions
from ecabinet.audit.filters import AuditFilter
from ecabinet.audit.forms import AuditFilterForm, known_events
from ecabinet.audit.models import AuditEntry
from ecabinet.web.net import client_ip
from ecabinet.web.views import mfa_login_required

PAGE_SIZE = 50


def _filters(form: AuditFilterForm) -> AuditFilter:
    # A bad date leaves that one filter out (the form shows why) instead of hiding the whole log.
    form.is_valid()
    return AuditFilter.from_values(getattr(form, "cleaned_data", {}))


def _query_without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


@require_GET
@mfa_login_required
def log_view(request: HttpRequest) -> HttpResponse:
    if not permissions.can_view_log(request.user):
        return render(request, "web/404.html", status=404)
    form = AuditFilterForm(request.GET or None)
    filters = _filters(form)
    entries = filters.apply(AuditEntry.objects.all()).order_by("-seq")
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    context: dict[str, Any] = {
        "form": form,
        "page": page,
        "entries": page.object_list,
        "filtered": not filters.is_empty(),
        "query": _query_without_page(request),
        "export_fields": [(name, request.GET.get(name, "")) for name in AuditFilterForm.base_fields if request.GET.get(name)],
        "known_events": known_events(),
        "check": checks.quick_check(),
        "last_verify": checks.latest_full_verification(),
    }
    return render(request, "audit/log.html", context)


@require_POST
@mfa_login_required
def export_view(request: HttpRequest) -> HttpResponseBase:
    if not permissions.can_export_log(request.user):
        return render(request, "web/404.html", status=404)
    filters = _filters(AuditFilterForm(request.POST))
    lines = actions.export_log(acting_user=request.user, source_ip=client_ip(request), filters=filters, channel="web")
    response = StreamingHttpResponse(lines, content_type="application/jsonl")
    response["Content-Disposition"] = 'attachment; filename="audit-log.jsonl"'
    return response
