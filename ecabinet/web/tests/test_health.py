"""/healthz, /readyz and /metrics: what load balancers, orchestrators and Prometheus rely on."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.db import OperationalError
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from ecabinet.web import health
from ecabinet.web.tests.procs import free_port

pytestmark = pytest.mark.django_db

OPTIONAL_TOOLS = {"chromium", "tesseract", "pdfsig", "clamdscan", "openssl"}


def test_healthz_answers_without_touching_anything(client: Client, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-store" in response["Cache-Control"]


def test_readyz_reports_the_database_and_the_optional_tools(client: Client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ready" and body["failed"] == []
    assert body["mode"] == settings.MODE
    assert body["checks"]["database"] == {"ok": True, "vendor": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[1].replace("sqlite3", "sqlite")}
    assert set(body["optional"]) == OPTIONAL_TOOLS
    assert all(isinstance(present, bool) for present in body["optional"].values())
    assert "no-store" in response["Cache-Control"]


def test_readyz_checks_redis_when_configured(client: Client) -> None:
    body = client.get("/readyz").json()
    if settings.REDIS_URL:
        # The PostgreSQL+Redis pass: Redis answers, and as the broker it is reported so.
        assert body["checks"]["redis"] == {"ok": True}
        assert body["checks"]["broker"] == {"ok": True, "transport": "redis"}
    else:
        # Embedded: no Redis to check; the broker is a folder under var/ that must be writable.
        assert "redis" not in body["checks"]
        assert body["checks"]["broker"] == {"ok": True, "transport": "filesystem"}


def test_unreachable_redis_makes_readyz_503_and_names_it(client: Client, settings: Any) -> None:
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    settings.CELERY_BROKER_URL = settings.REDIS_URL
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    assert body["failed"] == ["redis", "broker"]
    assert body["checks"]["redis"]["ok"] is False and body["checks"]["redis"]["error"]
    assert body["checks"]["database"]["ok"] is True


def test_unreachable_separate_broker_makes_readyz_503(client: Client, settings: Any) -> None:
    settings.CELERY_BROKER_URL = f"amqp://guest:guest@127.0.0.1:{free_port()}//"
    body = client.get("/readyz").json()
    assert body["failed"] == ["broker"]
    assert body["checks"]["broker"]["transport"] == "amqp" and body["checks"]["broker"]["ok"] is False


def test_database_failure_makes_readyz_503(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    class DownConnection:
        vendor = "postgresql"

        def cursor(self) -> Any:
            raise OperationalError("connection refused")

    monkeypatch.setattr(health, "connection", DownConnection())
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert "database" in body["failed"]
    assert body["checks"]["database"] == {"ok": False, "vendor": "postgresql", "error": "OperationalError"}
    assert "refused" not in response.content.decode(), "driver messages stay out of a public endpoint"


# --- /metrics --------------------------------------------------------------------------------


def scrape(client: Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the exposition, keyed by (name, sorted labels)."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_count_requests_and_latency_per_route(client: Client) -> None:
    before = scrape(client)
    for _ in range(3):
        client.get("/healthz")
    client.get("/login/")
    after = scrape(client)

    counted = "ecabinet_http_requests_total"
    assert value(after, counted, route="healthz", method="GET", status="200") - value(before, counted, route="healthz", method="GET", status="200") == 3
    assert value(after, counted, route="login/", method="GET", status="200") - value(before, counted, route="login/", method="GET", status="200") == 1

    latency = "ecabinet_http_request_duration_seconds"
    assert value(after, latency + "_count", route="healthz", method="GET") - value(before, latency + "_count", route="healthz", method="GET") == 3
    assert value(after, latency + "_bucket", route="healthz", method="GET", le="+Inf") == value(after, latency + "_count", route="healthz", method="GET")
    assert value(after, latency + "_sum", route="healthz", method="GET") > value(before, latency + "_sum", route="healthz", method="GET")


def test_metrics_label_the_route_pattern_not_the_path(client: Client) -> None:
    """Paths carry ids and garbage; labelling by path would grow the series without bound."""
    client.get("/devices/123456/revoke/")
    client.get("/no/such/page-7f3a9c")
    samples = scrape(client)
    routes = {dict(labels).get("route") for (name, labels) in samples if name == "ecabinet_http_requests_total"}
    assert "devices/<int:device_id>/revoke/" in routes
    assert "unmatched" in routes
    assert not any("123456" in r or "7f3a9c" in r for r in routes if r)


def test_metrics_include_websocket_connections(client: Client) -> None:
    samples = scrape(client)
    assert ("ecabinet_websocket_connections_total", ()) in samples
