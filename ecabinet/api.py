"""The JSON API under ``/api/v1``: one NinjaAPI, every error answered as problem details."""

from __future__ import annotations

import logging
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.renderers import JSONRenderer

from ecabinet import errors

log = logging.getLogger(__name__)


class ProblemRenderer(JSONRenderer):
    media_type = "application/json"


api = NinjaAPI(
    title="e-Cabinet API",
    version="1",
    urls_namespace="api",
    description="JSON API of e-Cabinet. Errors are RFC 9457 problem details with a stable `code`; see /api/v1/problems.",
    renderer=ProblemRenderer(),
)


def problem_response(request: HttpRequest, body: dict[str, Any]) -> HttpResponse:
    response = api.create_response(request, body, status=body["status"])
    response["Content-Type"] = "application/problem+json"
    return response


@api.exception_handler(errors.ECabinetError)
def _ecabinet_error(request: HttpRequest, exc: errors.ECabinetError) -> HttpResponse:
    return problem_response(request, exc.as_problem(instance=request.path))


@api.exception_handler(NinjaValidationError)
def _validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    problems = []
    for item in exc.errors:
        loc = [str(part) for part in item.get("loc", ()) if part not in ("body", "payload")]
        problems.append({"field": ".".join(loc), "message": item.get("msg", ""), "type": item.get("type", "")})
    first = problems[0] if problems else {"field": "", "message": "invalid"}
    err = errors.ValidationFailed(f"{first['field'] or 'request'}: {first['message']}", errors=problems)
    return problem_response(request, err.as_problem(instance=request.path))


@api.exception_handler(AuthenticationError)
def _auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return problem_response(request, errors.NotAuthenticated().as_problem(instance=request.path))


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return problem_response(request, errors.NotFound().as_problem(instance=request.path))


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    # Ninja raises HttpError(400) for a body it cannot parse as JSON; everything else maps by status.
    status = exc.status_code
    message = str(exc)
    if status == 400 and ("parse" in message.lower() or "json" in message.lower()):
        err: errors.ECabinetError = errors.MalformedJSON(message)
    elif status == 405:
        err = errors.MethodNotAllowed(message)
    elif status == 403:
        err = errors.CsrfFailed(message)
    elif status == 401:
        err = errors.NotAuthenticated(message)
    elif status == 404:
        err = errors.NotFound()
    else:
        err = errors.InvalidInput(message)
    return problem_response(request, err.as_problem(instance=request.path))


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    log.exception("unhandled API error on %s", request.path)
    return problem_response(request, errors.ServerError("An unexpected error occurred; it has been logged.").as_problem(instance=request.path))


@api.get("/problems", auth=None, tags=["meta"], summary="Every problem code the API can answer with")
def list_problems(request: HttpRequest) -> list[dict[str, Any]]:
    return [{"code": code, "status": cls.status, "title": cls.title, "type": errors.PROBLEM_BASE + code} for code, cls in sorted(errors.REGISTRY.items())]


def register_routers() -> None:
    """Mount each app's router. Called once from urls.py so import order stays simple."""
    from ecabinet.audit.api import router as audit_router
    from ecabinet.documents.api import router as documents_router
    from ecabinet.documents.reader_api import router as reader_router
    from ecabinet.identity.api import router as identity_router
    from ecabinet.meetings.api import router as meetings_router
    from ecabinet.meetings.followup_api import router as followup_router
    from ecabinet.meetings.live_api import router as live_router
    from ecabinet.notify.api import router as notify_router
    from ecabinet.pki.api import router as pki_router
    from ecabinet.security.api import router as security_router
    from ecabinet.voting.api import router as voting_router

    api.add_router("/", identity_router)
    api.add_router("/audit", audit_router)
    api.add_router("/", documents_router)
    api.add_router("/", reader_router)
    api.add_router("/security", security_router)
    api.add_router("/pki", pki_router)
    api.add_router("/", followup_router)
    api.add_router("/", meetings_router)
    api.add_router("/meetings", live_router)
    api.add_router("/", notify_router)
    api.add_router("/", voting_router)
