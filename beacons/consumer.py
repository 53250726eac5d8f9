"""The counters consumer (`adgw events consume`) and the topic tail (`adgw events tail`).

The consumer reads `ad-events` in a consumer group and counts each event id once within
`dedup_window_s`: per batch it reads the marks `evseen:<event_id>` (one MGET), consumes
the cap reservation markers of its impressions and errors (one pipelined pop), then
applies every counter of the unmarked events together with their marks (one pipeline),
then commits the offsets. A crash mid-batch recounts at most that batch: caps and pacing
then err on the side of serving less, never more.

Counters written (integers in the store):

    dlv:<line_item>:<event>:total        events per line item (delivery, every event type)
    dlv:<line_item>:<event>:<yyyymmdd>   the same per UTC day (TTL 9 days)
    pace:spend:… / pace:imps:…           via `decision.pacing.record_delivery` (spend =
                                         `spend_for_event`: CPM price/1000 per impression)
    cap:<cap_ref>:…                      via `decision.caps.cap_event_ops` (needs the
                                         catalog snapshot; `cap_ref` = event device.cap_ref)
    calib:<name>@<version>:…             predictions and outcomes per model version, via
                                         `decision.models.outcomes.outcome_ops` (events
                                         whose `model` block names a version)
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, TextIO

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from beacons import metrics
from beacons.events import SCHEMA
from decision import caps, pacing
from decision.models.outcomes import outcome_ops
from store import Store

log = logging.getLogger("adgw.beacons.consumer")

DAY_TTL_S = 9 * 86400.0


@dataclass
class ConsumerStats:
    read: int = 0
    counted: int = 0
    duplicates: int = 0
    malformed: int = 0


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


class Countable(NamedTuple):
    """What counting needs of an event, flat. The embedded counter holds accepted events
    for up to half a second before counting them: thousands of full event dicts (a
    dozen containers each) outlived the young GC generation and made each older
    collection a ~50 ms pause of the event loop; it keeps `countable_values`."""

    event_id: str
    line_item_id: str
    event: str
    at: float  # received, epoch seconds
    price_micros: int
    imp_id: str
    creative_id: str
    cap_ref: str | None
    model: Any  # the event's model block (calibration), usually None


def countable_values(event: dict[str, Any]) -> tuple[Any, ...]:
    """`Countable`'s fields as a plain tuple: what a holder keeps (a plain tuple of
    atomic values drops out of the cyclic GC's tracking after one look; a NamedTuple
    instance stays tracked)."""
    return (event["event_id"], event["line_item_id"], event["event"], _epoch(event["received_at"]),
            int(event["price_micros"]), event["imp_id"], event["creative_id"],
            event["device"].get("cap_ref"), event.get("model") or None)


def countable(event: dict[str, Any]) -> Countable:
    return _tuple_new(Countable, countable_values(event))


_tuple_new = tuple.__new__


class Counters:
    """Applies the counters of one batch of events, exactly once per event id."""

    def __init__(self, store: Store, *, dedup_window_s: float = 2 * 86400.0,
                 catalog: Callable[[], Any] | None = None) -> None:
        self.store = store
        self.dedup_window_s = dedup_window_s
        self.catalog = catalog

    async def apply(self, events: list[dict[str, Any]], stats: ConsumerStats) -> None:
        await self.apply_countable([countable(e) for e in events], stats)

    async def apply_countable(self, events: list[Countable], stats: ConsumerStats) -> None:
        fresh: dict[str, Countable] = {}
        for event in events:
            if event.event_id in fresh:
                stats.duplicates += 1
            else:
                fresh[event.event_id] = event
        if not fresh:
            return
        ids = list(fresh)
        seen_keys = [f"evseen:{i}" for i in ids]
        marks = await self.store.get_ints(seen_keys)
        todo = [fresh[i] for i, mark in zip(ids, marks, strict=True) if not mark]
        stats.duplicates += len(ids) - len(todo)
        metrics.CONSUMED.labels("duplicate").inc(len(ids) - len(todo))
        if not todo:
            return
        snapshot = self.catalog() if self.catalog else None
        tz = snapshot.tz_offset_s if snapshot is not None else 0.0
        # shared counters (delivery, calibration) summed over the batch: one increment per
        # key, not one per event; per-device cap counters and per-event marks stay apart
        sums: dict[tuple[str, float | None], int] = {}
        # delivery counts by (line item, event, UTC day): their two keys are written once
        # per batch, not formatted for every event
        counts: dict[tuple[str, str, str], int] = {}
        delivery: dict[tuple[str, str], list[float]] = {}  # (line item, day) -> [spend, imps]
        cap_events: list[caps.CapEvent] = []
        # day labels by day number, formatted once per day rather than once per event
        days: dict[int, str] = {}  # UTC (delivery counters)
        local_days: dict[int, str] = {}  # the catalog's time zone (pacing)
        for event in todo:
            li, name, at = event.line_item_id, event.event, event.at
            day = days.get(int(at // 86400))
            if day is None:
                day = days[int(at // 86400)] = time.strftime("%Y%m%d", time.gmtime(at))
            counted = (li, name, day)
            counts[counted] = counts.get(counted, 0) + 1
            model = event.model
            if model:
                for key, amount, ttl in outcome_ops(name, model, _scheduled(model)):
                    sums[(key, ttl)] = sums.get((key, ttl), 0) + amount
            goal, rate = "CPM", None
            if snapshot is not None and li in snapshot.line_item_index:
                item = snapshot.line_item(li)
                # CPCV pays its rate per completed view; the event's price is an eCPM
                goal, rate = item.goal, item.rate_micros
            spend = pacing.spend_for_event(goal, name, event.price_micros, rate)
            imps = 1 if name == "impression" else 0
            if spend or imps:
                local_day = local_days.get(int((at + tz) // 86400))
                if local_day is None:
                    local_day = local_days[int((at + tz) // 86400)] = pacing.day_label(at, tz)
                acc = delivery.get((li, local_day))
                if acc is None:
                    acc = delivery[(li, local_day)] = [0, 0]
                acc[0] += spend
                acc[1] += imps
            if snapshot is not None and event.cap_ref and name in ("impression", "error"):
                cap_events.append(caps.CapEvent(name, event.imp_id, event.cap_ref, li, event.creative_id, at))
        for (li, name, day), n in counts.items():
            for key, ttl in ((f"dlv:{li}:{name}:total", None), (f"dlv:{li}:{name}:{day}", DAY_TTL_S)):
                sums[(key, ttl)] = sums.get((key, ttl), 0) + n
        ops = [(key, amount, ttl) for (key, ttl), amount in sums.items()]
        for (li, day_label), (spend, imps) in delivery.items():
            ops += pacing.delivery_ops(li, day_label, int(spend), int(imps))
        if cap_events:
            cap_ops, _ = await caps.cap_event_ops(self.store, snapshot, cap_events)
            ops += cap_ops
        # counters and marks in one round trip: a crash can only lose or repeat this batch
        window = self.dedup_window_s
        ops += [(key, 1, window) for key, mark in zip(seen_keys, marks, strict=True) if not mark]
        await self.store.incr_many(ops)
        stats.counted += len(todo)
        metrics.CONSUMED.labels("counted").inc(len(todo))


def _scheduled(model: Any) -> float | None:
    at = model.get("scheduled_at") if isinstance(model, dict) else None
    try:
        return _epoch(at) if isinstance(at, str) else None
    except ValueError:
        return None


def _parse(value: bytes | None) -> dict[str, Any] | None:
    try:
        event = orjson.loads(value or b"")
    except orjson.JSONDecodeError:
        return None
    if not isinstance(event, dict) or event.get("schema") != SCHEMA:
        return None
    if not all(isinstance(event.get(k), str) for k in ("event_id", "event", "line_item_id", "received_at")):
        return None
    if not isinstance(event.get("device"), dict) or not isinstance(event.get("price_micros"), int):
        return None
    return event


async def run_consumer(bootstrap: str, store: Store, *, topic: str = "ad-events",
                       group_id: str = "adgw-counters", dedup_window_s: float = 2 * 86400.0,
                       catalog: Callable[[], Any] | None = None, stop: asyncio.Event | None = None,
                       max_records: int = 2000, from_beginning: bool = True,
                       on_batch: Callable[[ConsumerStats], None] | None = None) -> ConsumerStats:
    """Consume until `stop` is set (forever when None); returns the totals. Offsets are
    committed after each batch's counters are in the store."""
    stop = stop or asyncio.Event()
    counters = Counters(store, dedup_window_s=dedup_window_s, catalog=catalog)
    stats = ConsumerStats()
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=group_id, enable_auto_commit=False,
        auto_offset_reset="earliest" if from_beginning else "latest", max_poll_records=max_records,
    )
    await consumer.start()
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=200, max_records=max_records)
            if not batch:
                continue
            events = []
            for records in batch.values():
                for record in records:
                    stats.read += 1
                    event = _parse(record.value)
                    if event is None:
                        stats.malformed += 1
                        metrics.CONSUMED.labels("malformed").inc()
                        log.warning("skipping a malformed record at %s:%d", record.topic, record.offset)
                    else:
                        events.append(event)
            await counters.apply(events, stats)
            await consumer.commit()
            if on_batch is not None:
                on_batch(stats)
    finally:
        await consumer.stop()
    return stats


async def tail(bootstrap: str, *, topic: str = "ad-events", out: TextIO | None = None,
               from_beginning: bool = False, follow: bool = True, limit: int | None = None,
               idle_timeout_s: float = 2.0, stop: asyncio.Event | None = None) -> int:
    """Print the topic's records, one JSON document a line, without joining a consumer
    group. With `follow=False` it returns once no record arrived for `idle_timeout_s`.
    Returns the number printed."""
    out = out or sys.stdout
    stop = stop or asyncio.Event()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    printed = 0
    try:
        partitions = set()
        deadline = time.monotonic() + 10
        while not partitions and time.monotonic() < deadline:
            await consumer.topics()  # refreshes the metadata
            partitions = consumer.partitions_for_topic(topic) or set()
            if not partitions:
                await asyncio.sleep(0.2)
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        if from_beginning:
            await consumer.seek_to_beginning(*tps)
        else:
            await consumer.seek_to_end(*tps)
        idle_since = time.monotonic()
        while not stop.is_set() and (limit is None or printed < limit):
            batch = await consumer.getmany(timeout_ms=200)
            if not batch:
                if not follow and time.monotonic() - idle_since > idle_timeout_s:
                    break
                continue
            idle_since = time.monotonic()
            for records in batch.values():
                for record in records:
                    out.write((record.value or b"").decode("utf-8", "replace") + "\n")
                    printed += 1
                    if limit is not None and printed >= limit:
                        break
            out.flush()
    finally:
        await consumer.stop()
    return printed
