"""Builders shared by the beacon tests: keys, claims, tokens, schema validators and a
Kafka reader that collects a whole topic."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from jsonschema import Draft202012Validator

from beacons.events import load_schema
from beacons.tokens import KeyRing, TokenClaims, TokenSigner
from beacons.validate import RawBeacon
from decision.request import device_ref

KEYS = "k2:second-secret-0123456789,k1:first-secret-0123456789"
EVENT_VALIDATOR = Draft202012Validator(load_schema("ad_event"))
INVALID_VALIDATOR = Draft202012Validator(load_schema("ad_event_invalid"))
try:  # the Rust validator checks 20k events in a blink; jsonschema needs ~1 ms each
    import jsonschema_rs

    FAST = {id(EVENT_VALIDATOR): jsonschema_rs.validator_for(load_schema("ad_event")).is_valid,
            id(INVALID_VALIDATOR): jsonschema_rs.validator_for(load_schema("ad_event_invalid")).is_valid}
except ImportError:
    FAST = {}
LINE_ITEMS = ("li-1", "li-2", "li-3", "li-4")
PRICE = 25_000_000  # $25 CPM


def signer(spec: str = KEYS, clock=time.time) -> TokenSigner:
    return TokenSigner(KeyRing.parse(spec), clock=clock)


def claims(i: int, *, now: float | None = None, duration_s: float = 15.0, **over) -> TokenClaims:
    now = time.time() if now is None else now
    base = dict(
        imp_id=f"imp-{i:06d}-{uuid.UUID(int=i).hex[:8]}", session_id=f"sess-{i // 4}", pod_id=f"pod-{i // 4}",
        pod_pos=i % 4 + 1, line_item_id=LINE_ITEMS[i % len(LINE_ITEMS)], campaign_id=f"camp-{i % 2}",
        advertiser_id="adv-1", creative_id=f"cr-{i % 3}", price_micros=PRICE, currency="USD",
        start_ms=int((now - duration_s) * 1000), duration_ms=int(duration_s * 1000),
        expires_at=int(now + 3600), cid="show-1", channel="news", genre="drama", device_type="ctv",
        device_ref=device_ref(f"ifa-{i % 97}"), source="client",
    )
    base.update(over)
    return TokenClaims(**base)


def beacon(token: str, event: str = "impression", ip: str | None = "203.0.113.7", **kw) -> RawBeacon:
    return RawBeacon(event=event, token=token, ip=ip, ua=kw.pop("ua", "Roku/DVP-12.0 (12.0.0.4182-88)"), **kw)


def _check(validator: Draft202012Validator, docs: Iterable[dict]) -> None:
    fast = FAST.get(id(validator))
    for doc in docs:
        if fast is not None and fast(doc):
            continue
        errors = sorted(validator.iter_errors(doc), key=str)
        assert not errors, f"{errors[0].message} in {doc}"


def check_events(events: Iterable[dict]) -> None:
    _check(EVENT_VALIDATOR, events)


def check_invalid(records: Iterable[dict]) -> None:
    _check(INVALID_VALIDATOR, records)


def unique_topic(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def create_topics(bootstrap: str, *names: str, partitions: int = 3) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, partitions, 1) for n in names])
    finally:
        await admin.close()


async def read_topic(bootstrap: str, topic: str, *, expect_at_least: int, timeout_s: float = 60.0,
                     settle_s: float = 1.0) -> list[dict]:
    """Every record on `topic`, read from the beginning until at least `expect_at_least`
    arrived and nothing more came for `settle_s`."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    out: list[dict] = []
    try:
        parts = set()
        while not parts:
            await consumer.topics()  # refreshes the metadata
            parts = consumer.partitions_for_topic(topic) or set()
            if not parts:
                await asyncio.sleep(0.1)
        tps = [TopicPartition(topic, p) for p in parts]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        deadline = time.monotonic() + timeout_s
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200, max_records=5000)
            if batch:
                quiet_since = time.monotonic()
                for records in batch.values():
                    out.extend(orjson.loads(r.value) for r in records)
            elif len(out) >= expect_at_least and time.monotonic() - quiet_since >= settle_s:
                break
    finally:
        await consumer.stop()
    return out
