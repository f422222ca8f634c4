"""Request metrics for /metrics and an early refusal of bodies over the configured limit."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve

from ecabinet import errors
from ecabinet.web import metrics

JSON_TYPES = ("application/json", "application/problem+json")
# API endpoints that take files say so here; every other API body must be JSON. Their bodies may
# be as large as ECABINET_MAX_UPLOAD_BYTES (plus room for the form fields), not MAX_BODY_BYTES.
MULTIPART_API_PREFIXES: tuple[str, ...] = ("/api/v1/documents",)
MULTIPART_OVERHEAD_BYTES = 64 * 1024


def _route_of(request: HttpRequest) -> str:
    """The URL pattern, not the path: one label per route keeps the metric's cardinality bounded."""
    match = getattr(request, "resolver_match", None)
    if match is None:  # answered before URL resolution (a middleware refusal) or no route at all
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return "unmatched"
    return match.route or match.view_name or "unknown"


class MetricsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        route = _route_of(request)
        metrics.observe_request(request.method or "GET", route, response.status_code, time.perf_counter() - started)
        return response


def problem_json(err: errors.ECabinetError, request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        err.as_problem(instance=request.path), status=err.status, content_type="application/problem+json", json_dumps_params={"ensure_ascii": False}
    )


class BodyLimitMiddleware:
    """Refuse oversize and wrongly typed API bodies before anything reads them."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        ctype = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
        upload = ctype == "multipart/form-data" and bool(MULTIPART_API_PREFIXES) and request.path.startswith(MULTIPART_API_PREFIXES)
        limit = settings.MAX_UPLOAD_BYTES + MULTIPART_OVERHEAD_BYTES if upload else settings.MAX_BODY_BYTES
        if length > limit:
            err = errors.PayloadTooLarge(f"The limit is {limit} bytes; this body has {length}.", limit=limit)
            if request.path.startswith("/api/"):
                return problem_json(err, request)
            return HttpResponse(err.detail, status=413, content_type="text/plain; charset=utf-8")
        if request.path.startswith("/api/") and request.method in ("POST", "PUT", "PATCH") and length > 0 and ctype not in JSON_TYPES and not upload:
            return problem_json(errors.UnsupportedMediaType(f"Got {ctype or 'no content type'}; send application/json."), request)
        return self.get_response(request)


class ApiProblemMiddleware:
    """Answers from outside Ninja's handlers (no route, wrong method) as problems too, under /api/."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith("/api/") or response.get("Content-Type", "").startswith(JSON_TYPES):
            return response
        if response.status_code == 404:
            return problem_json(errors.NotFound(), request)
        if response.status_code == 405:
            allowed = response.get("Allow", "")
            converted = problem_json(errors.MethodNotAllowed(f"Allowed: {allowed}" if allowed else None), request)
            if allowed:
                converted["Allow"] = allowed
            return converted
        return response
