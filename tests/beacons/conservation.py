"""Checks shared by the conservation tests: what reached Kafka, and what the counters
consumer made of it."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

from beacons.consumer import ConsumerStats, run_consumer
from store import Store
from tests.beacons.helpers import check_events, check_invalid, read_topic
from tests.beacons.workload import Workload


async def check_topics(bootstrap: str, topic: str, invalid_topic: str, wl: Workload) -> list[dict]:
    events = await read_topic(bootstrap, topic, expect_at_least=len(wl.unique_ids))
    check_events(events)
    distinct = {e["event_id"] for e in events}
    assert len(distinct) == len(wl.unique_ids), (len(distinct), len(wl.unique_ids))
    assert distinct == wl.unique_ids
    # the edge dedup keeps copies off the topic except around outages and crashes
    assert len(events) - len(distinct) <= len(distinct) // 10
    invalid = await read_topic(bootstrap, invalid_topic, expect_at_least=wl.invalid)
    check_invalid(invalid)
    assert len({r["record_id"] for r in invalid}) == wl.invalid
    reasons = Counter(r["reason"] for r in {r["record_id"]: r for r in invalid}.values())
    assert set(reasons) == {"bad_signature", "expired", "unknown_event", "bad_code", "bad_offset"}
    return events


async def run_and_check_counters(bootstrap: str, topic: str, store: Store, wl: Workload,
                                 group: str, timeout_s: float = 60.0) -> ConsumerStats:
    stop = asyncio.Event()
    seen: list[ConsumerStats] = []

    def progress(stats: ConsumerStats) -> None:
        seen[:] = [stats]

    task = asyncio.create_task(run_consumer(bootstrap, store, topic=topic, group_id=group, stop=stop,
                                            on_batch=progress))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not (seen and seen[0].counted >= len(wl.unique_ids)):
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)  # anything extra would arrive now
    stop.set()
    stats = await task
    assert stats.counted == len(wl.unique_ids), stats
    assert stats.malformed == 0
    keys, expected = [], []
    for li in wl.line_items:
        for ev in ("impression", "start", "firstQuartile", "midpoint", "thirdQuartile", "complete"):
            keys.append(f"dlv:{li}:{ev}:total")
            expected.append(wl.per_line_item_event[(li, ev)])
        keys += [f"pace:spend:{li}:total", f"pace:imps:{li}:total"]
        expected += [wl.spend(li), wl.per_line_item_event[(li, "impression")]]
    assert await store.get_ints(keys) == expected
    return stats
