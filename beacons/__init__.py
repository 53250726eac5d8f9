"""Beacons: signed tracking tokens, the intake (verify → validate → privacy → dedup →
durable spool), the Kafka forwarder and the counters consumer. No HTTP server code:
`gateway/routes/beacons.py` is the thin edge."""

from beacons.consumer import ConsumerStats, Counters, run_consumer, tail
from beacons.dedup import Deduper
from beacons.errors import (
    BeaconError,
    Malformed,
    RateLimited,
    SpoolError,
    SpoolFull,
    SpoolLocked,
    TokenExpired,
    TokenInvalid,
)
from beacons.events import build_event, event_id, load_schema
from beacons.forwarder import Forwarder
from beacons.intake import BeaconIntake, IntakeConfig, Verdict
from beacons.pipeline import BeaconPipeline
from beacons.privacy import RotatingHasher, client_ip, parse_networks, truncate_ip, ua_family
from beacons.ratelimit import TokenBuckets
from beacons.spool import Position, Spool, SpoolRecord
from beacons.tokens import (
    KeyRing,
    TokenClaims,
    TokenContext,
    TokenSigner,
    claims_for_ad,
    context_from_request,
    tracking_url,
    tracking_urls,
)
from beacons.validate import RawBeacon
from decision.request import device_ref

__all__ = [
    "BeaconError", "BeaconIntake", "BeaconPipeline", "ConsumerStats", "Counters", "Deduper", "Forwarder",
    "IntakeConfig", "KeyRing", "Malformed", "Position", "RateLimited", "RawBeacon", "RotatingHasher", "Spool",
    "SpoolError", "SpoolFull", "SpoolLocked", "SpoolRecord", "TokenBuckets", "TokenClaims", "TokenContext",
    "TokenExpired", "TokenInvalid", "TokenSigner", "Verdict", "build_event", "claims_for_ad", "client_ip",
    "context_from_request", "device_ref", "event_id", "load_schema", "parse_networks", "run_consumer", "tail",
    "tracking_url", "tracking_urls", "truncate_ip", "ua_family",
]
