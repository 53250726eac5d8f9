"""The ad event contract (`ad_event/1`, `ad_event_invalid/1`) as dicts ready for
`orjson.dumps`, and the deterministic event id. Schemas: `beacons/schema/*.json`."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from beacons.tokens import TokenClaims
from beacons.validate import BeaconFields

SCHEMA = "ad_event/1"
INVALID_SCHEMA = "ad_event_invalid/1"
SCHEMA_DIR = Path(__file__).resolve().parent / "schema"
_NAMESPACE = uuid.UUID("6f1c2b0e-4d55-5a8e-9c3a-0b7d6a1e2f40")


_NS_BYTES = _NAMESPACE.bytes


def event_id(imp_id: str, event: str, offset_key: str = "") -> str:
    """UUIDv5 of (imp id, event, offset): the idempotency key shared by the edge dedup,
    the topic and the counters consumer (RFC 9562 §5.5). The same text as
    `str(uuid.uuid5(...))`, computed without the UUID object."""
    h = bytearray(hashlib.sha1(_NS_BYTES + f"{imp_id}\x1f{event}\x1f{offset_key}".encode()).digest()[:16])
    h[6] = (h[6] & 0x0F) | 0x50  # version 5
    h[8] = (h[8] & 0x3F) | 0x80  # RFC 4122 variant
    x = h.hex()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


def record_id(*parts: str | bytes | None) -> str:
    """A stable id for an invalid beacon: the same request retried gets the same id."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else (part or "").encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
    return h.hexdigest()[:32]


_second: list = [None, ""]  # the last second formatted: most events share it


def iso_ms(ms: int) -> str:
    second = ms // 1000
    cached = _second
    if cached[0] != second:
        prefix = datetime.fromtimestamp(second, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        cached[0], cached[1] = second, prefix
    else:
        prefix = cached[1]
    return f"{prefix}{ms % 1000:03d}Z"


def build_event(claims: TokenClaims, fields: BeaconFields, *, event_id_: str, received_ms: int,
                ip_trunc: str | None, ua_family: str, ifa_hash: str | None, flags: list[str],
                dedup: str, gateway: str,
                geo: tuple[str | None, str | None, str | None] | None = None) -> dict[str, Any]:
    occurred_ms = fields.ts_ms if fields.ts_ms is not None else received_ms
    return {
        "schema": SCHEMA,
        "event_id": event_id_,
        "event": fields.event,
        "imp_id": claims.imp_id,
        "session_id": claims.session_id,
        "pod_id": claims.pod_id,
        "pod_pos": claims.pod_pos,
        "campaign_id": claims.campaign_id,
        "line_item_id": claims.line_item_id,
        "advertiser_id": claims.advertiser_id,
        "creative_id": claims.creative_id,
        "price_micros": claims.price_micros,
        "currency": claims.currency,
        "source": claims.source,
        "occurred_at": iso_ms(occurred_ms),
        "received_at": iso_ms(received_ms),
        "client_ts": fields.ts_ms is not None,
        "error_code": fields.code if fields.event == "error" else None,
        "offset_ms": fields.offset_ms,
        "offset_pct": fields.offset_pct,
        "device": {
            "type": claims.device_type,
            "ifa_hash": ifa_hash,
            "cap_ref": claims.device_ref,
            "ip_trunc": ip_trunc,
            "ua_family": ua_family,
        },
        "content": {"cid": claims.cid, "channel": claims.channel, "genre": claims.genre},
        "geo": None if geo is None else {"country": geo[0], "region": geo[1], "dma": geo[2]},
        "privacy": {"lmt": claims.lmt, "gdpr": claims.gdpr, "gdpr_consent": claims.gdpr_consent,
                    "us_privacy": claims.us_privacy},
        "model": model_block(claims),
        "flags": flags,
        "dedup": dedup,
        "kid": claims.kid,
        "gateway": gateway,
    }


def model_block(claims: TokenClaims) -> dict[str, Any] | None:
    """What scored the ad, for calibration (`decision/models/outcomes.py`): the labels
    per target, the predictions and the ad's scheduled start (its outcome cohort); None
    for tokens that do not say."""
    if not (claims.complete_model or claims.click_model):
        return None
    return {
        "complete": claims.complete_model or None,
        "click": claims.click_model or None,
        "p_complete": None if claims.p_complete_micros is None else claims.p_complete_micros / 1_000_000,
        "p_click": None if claims.p_click_micros is None else claims.p_click_micros / 1_000_000,
        "scheduled_at": iso_ms(claims.start_ms),
    }


def build_invalid(*, record_id_: str, reason: str, detail: str, event: str | None, received_ms: int,
                  claims: TokenClaims | None, ip_trunc: str | None, ua_family: str,
                  gateway: str) -> dict[str, Any]:
    """An invalid beacon: the reason and what can be said without secrets or raw PII
    (never the token, the raw IP or the user agent string)."""
    return {
        "schema": INVALID_SCHEMA,
        "record_id": record_id_,
        "reason": reason,
        "detail": detail[:200],
        "event": event,
        "received_at": iso_ms(received_ms),
        "imp_id": claims.imp_id if claims else None,
        "line_item_id": claims.line_item_id if claims else None,
        "creative_id": claims.creative_id if claims else None,
        "kid": claims.kid if claims else None,
        "device": {"ip_trunc": ip_trunc, "ua_family": ua_family},
        "gateway": gateway,
    }


def load_schema(name: str = "ad_event") -> dict[str, Any]:
    """`ad_event` or `ad_event_invalid` (JSON Schema draft 2020-12)."""
    return orjson.loads((SCHEMA_DIR / f"{name}.json").read_bytes())
