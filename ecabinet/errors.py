"""One error base with a stable machine-readable code, answered as RFC 9457 problem details.

Each app's ``errors.py`` subclasses these with its own codes. Every subclass registers itself, so
``/api/v1/problems`` can list every code the API can answer with.
"""

from __future__ import annotations

from typing import Any, ClassVar

PROBLEM_BASE = "/api/v1/problems#"
REGISTRY: dict[str, type[ECabinetError]] = {}


class ECabinetError(Exception):
    code: ClassVar[str] = "error"
    status: ClassVar[int] = 400
    title: ClassVar[str] = "Bad request"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        self.detail = detail or self.title
        self.extra = extra
        super().__init__(self.detail)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        existing = REGISTRY.get(cls.code)
        if existing is not None and existing.__qualname__ != cls.__qualname__:
            raise TypeError(f"problem code {cls.code!r} used by both {existing.__name__} and {cls.__name__}")
        REGISTRY[cls.code] = cls

    def as_problem(self, instance: str | None = None) -> dict[str, Any]:
        return problem(self.status, self.code, self.title, self.detail, instance=instance, **self.extra)


def problem(status: int, code: str, title: str, detail: str, *, instance: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"type": PROBLEM_BASE + code, "title": title, "status": status, "detail": detail, "code": code}
    if instance:
        body["instance"] = instance
    body.update(extra)
    return body


class InvalidInput(ECabinetError):
    code = "invalid_input"
    status = 400
    title = "The request is not valid"


class ValidationFailed(ECabinetError):
    code = "validation_error"
    status = 422
    title = "The request body or parameters failed validation"


class MalformedJSON(ECabinetError):
    code = "malformed_json"
    status = 400
    title = "The request body is not valid JSON"


class NotAuthenticated(ECabinetError):
    code = "not_authenticated"
    status = 401
    title = "Authentication is required"


class Forbidden(ECabinetError):
    code = "forbidden"
    status = 403
    title = "Your role does not allow this"


class CsrfFailed(ECabinetError):
    code = "csrf_failed"
    status = 403
    title = "The CSRF token is missing or wrong; reload the page"


class NotFound(ECabinetError):
    code = "not_found"
    status = 404
    title = "Not found"


class MethodNotAllowed(ECabinetError):
    code = "method_not_allowed"
    status = 405
    title = "Method not allowed"


class Conflict(ECabinetError):
    code = "conflict"
    status = 409
    title = "The request conflicts with the current state"


class PayloadTooLarge(ECabinetError):
    code = "payload_too_large"
    status = 413
    title = "The request body is too large"


class UnsupportedMediaType(ECabinetError):
    code = "unsupported_media_type"
    status = 415
    title = "The request body must be application/json"


class Throttled(ECabinetError):
    code = "throttled"
    status = 429
    title = "Too many attempts"


class ServerError(ECabinetError):
    code = "server_error"
    status = 500
    title = "Internal server error"
