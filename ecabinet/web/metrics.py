"""Prometheus metrics. One registry per process; multiprocess deployments scrape each process."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

registry = CollectorRegistry(auto_describe=True)

REQUESTS = Counter("ecabinet_http_requests_total", "HTTP requests by route, method and status", ["route", "method", "status"], registry=registry)
LATENCY = Histogram(
    "ecabinet_http_request_duration_seconds",
    "HTTP request latency by route",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=registry,
)
BALLOT_GROUPS = Counter("ecabinet_ballot_groups_total", "Groups of ballots written under the audit chain's lock, each one transaction", registry=registry)
BALLOTS_GROUPED = Counter("ecabinet_ballot_group_items_total", "Ballots (cast or refused) in those groups", registry=registry)
WS_CONNECTIONS = Counter("ecabinet_websocket_connections_total", "WebSocket connections accepted", registry=registry)


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    REQUESTS.labels(route=route, method=method, status=str(status)).inc()
    LATENCY.labels(route=route, method=method).observe(seconds)


def render() -> bytes:
    return generate_latest(registry)
