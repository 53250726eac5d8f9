"""Prometheus collectors of the HTTP layer (domain packages define their own)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter("adgw_http_requests_total", "HTTP requests by route and status", ["route", "method", "status"])
LATENCY = Histogram(
    "adgw_http_request_seconds", "HTTP request latency by route and status", ["route", "method", "status"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
IN_FLIGHT = Gauge("adgw_http_in_flight", "Requests being handled")
DEPENDENCY_UP = Gauge("adgw_dependency_state", "1 ok, 0.5 degraded, 0 down", ["dependency"])
