"""The HTTP request counter and latency histogram, kept as plain numbers and exposed at
scrape time: the exposition must be what a prometheus_client Counter and Histogram
with the same names, labels and buckets print (cumulative buckets, `le` inclusive)."""

from __future__ import annotations

import random

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from gateway.metrics import LATENCY_BUCKETS, RequestStats


def samples(registry: CollectorRegistry) -> dict[tuple, float]:
    out = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for s in family.samples:
            if not s.name.endswith("_created"):
                out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_exposition_matches_prometheus_client_counter_and_histogram():
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    stats = RequestStats()
    ours.register(stats)
    labels = ["route", "method", "status"]
    counter = Counter("adgw_http_requests", "HTTP requests by route and status", labels, registry=theirs)
    histogram = Histogram("adgw_http_request_seconds", "HTTP request latency by route and status", labels,
                          buckets=LATENCY_BUCKETS, registry=theirs)
    rng = random.Random(5)
    # every bound exactly (le is inclusive), just past each, above the last, and zero
    values = [*LATENCY_BUCKETS, *(b * 1.0001 for b in LATENCY_BUCKETS), 11.0, 0.0]
    values += [rng.expovariate(200) for _ in range(500)]
    for i, seconds in enumerate(values):
        key = ("/v1/b/{event}", "GET", "204") if i % 3 else ("/v1/vast", "GET", "200")
        stats.observe(*key, seconds)
        counter.labels(*key).inc()
        histogram.labels(*key).observe(seconds)
    got, want = samples(ours), samples(theirs)
    assert got.keys() == want.keys()
    for key, value in want.items():
        assert abs(got[key] - value) <= 1e-9 * max(1.0, abs(value)), key
    inf = ("adgw_http_request_seconds_bucket", (("le", "+Inf"), ("method", "GET"), ("route", "/v1/vast"),
                                                 ("status", "200")))
    assert got[inf] == len(range(0, len(values), 3))


def test_names_are_checked_against_other_collectors():
    registry = CollectorRegistry()
    registry.register(RequestStats())
    try:
        Counter("adgw_http_requests", "clash", registry=registry)
    except ValueError:
        return
    raise AssertionError("a second collector of the same name was accepted")
