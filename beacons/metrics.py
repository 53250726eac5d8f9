"""Prometheus collectors of the beacon pipeline (module level, default registry; the
gateway's /metrics exposes them). Labels never carry ids, IPs or tokens."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RECEIVED = Counter("adgw_beacons_received_total", "Beacons received by the intake")
ACCEPTED = Counter("adgw_beacons_accepted_total", "Beacons accepted as new events", ["event"])
DUPLICATE = Counter("adgw_beacons_duplicate_total", "Beacons answered as duplicates")
INVALID = Counter("adgw_beacons_invalid_total", "Beacons rejected", ["reason"])
RATE_LIMITED = Counter("adgw_beacons_rate_limited_total", "Beacons refused by rate limiting", ["scope"])
UNAVAILABLE = Counter("adgw_beacons_unavailable_total", "Beacons refused because they could not be made durable")
DEDUP_UNCHECKED = Counter("adgw_beacons_dedup_unchecked_total", "Beacons accepted without the dedup check (store down)")
FLAGGED = Counter("adgw_beacons_flagged_total", "Accepted beacons carrying a plausibility or IVT flag", ["flag"])
SPOOLED = Counter("adgw_spool_records_total", "Records fsynced into the spool")
SPOOL_DEPTH = Gauge("adgw_spool_depth_bytes", "Spool bytes not yet acknowledged by Kafka")
SPOOL_COMMIT_SECONDS = Histogram(
    "adgw_spool_commit_seconds", "Write and fdatasync of each spool group commit (every 204 waits for one)",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
SPOOL_CORRUPT = Counter("adgw_spool_corrupt_total", "Corrupt spool records skipped")
PRODUCED = Counter("adgw_events_produced_total", "Records acknowledged by Kafka", ["topic"])
PRODUCE_FAILURES = Counter("adgw_events_produce_failures_total", "Failed produce attempts (batches)")
DELIVERY_LATENCY = Histogram(
    "adgw_beacon_to_ack_seconds", "Beacon receipt to Kafka acknowledgement",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
BATCH_SIZE = Histogram(
    "adgw_beacon_batch_size", "Beacons per intake batch (single beacons coalesced across requests, or a POST)",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 1000),
)
CONSUMED = Counter("adgw_events_consumed_total", "Events read by the counters consumer", ["outcome"])
