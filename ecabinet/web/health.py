"""/healthz (the process answers), /readyz (its dependencies answer), /metrics (Prometheus)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache

from ecabinet.web import metrics


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def check_database() -> dict[str, Any]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return {"ok": True, "vendor": connection.vendor}
    except Exception as exc:  # any driver error means "not ready"
        return {"ok": False, "vendor": connection.vendor, "error": type(exc).__name__}


def check_redis() -> dict[str, Any] | None:
    if not settings.REDIS_URL:
        return None
    import redis

    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
        client.ping()
        return {"ok": True}
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__}


def check_broker(redis_check: dict[str, Any] | None) -> dict[str, Any]:
    """The Celery broker: a folder under var/ when embedded, else the service the URL names."""
    url = settings.CELERY_BROKER_URL
    if url.startswith("filesystem://"):
        folder = Path(str(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]))
        return {"ok": folder.is_dir() and os.access(folder, os.W_OK), "transport": "filesystem"}
    if url == settings.REDIS_URL and redis_check is not None:
        return {**redis_check, "transport": "redis"}
    from kombu import Connection

    transport = url.split("://", 1)[0]
    try:
        with Connection(url, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=2)
        return {"ok": True, "transport": transport}
    except Exception as exc:
        return {"ok": False, "transport": transport, "error": type(exc).__name__}


def optional_tools() -> dict[str, bool]:
    """System tools later features use; missing ones are reported, never fatal."""
    return {name: shutil.which(name) is not None for name in ("chromium", "tesseract", "pdfsig", "clamdscan", "openssl")}


def readiness() -> dict[str, Any]:
    checks: dict[str, Any] = {"database": check_database()}
    redis_check = check_redis()
    if redis_check is not None:
        checks["redis"] = redis_check
    # YARA rules must compile; clamd, when configured, must answer (uploads are held otherwise).
    from ecabinet.security.scanning import scanner_status

    checks["scanner"] = scanner_status()
    checks["broker"] = check_broker(redis_check)
    failed = [name for name, result in checks.items() if not result["ok"]]
    return {
        "status": "not_ready" if failed else "ready",
        "mode": settings.MODE,
        "failed": failed,
        "checks": checks,
        "optional": optional_tools(),
    }


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    body = readiness()
    return JsonResponse(body, status=200 if body["status"] == "ready" else 503)


@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse(metrics.render(), content_type="text/plain; version=0.0.4; charset=utf-8")
