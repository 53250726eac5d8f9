"""The counters the consumer (and the embedded local counter) apply: exact by event id,
and spend charged per each line item's goal."""

from __future__ import annotations

import time
from pathlib import Path

from beacons.consumer import ConsumerStats, Counters
from decision.catalog import load_catalog
from decision.pacing import delivery_keys
from store import MemoryStore

ROOT = Path(__file__).resolve().parents[2]


def event(eid: str, name: str, li: str, price_micros: int, at: float) -> dict:
    return {"event_id": eid, "event": name, "imp_id": f"imp-{eid}", "line_item_id": li, "creative_id": "c",
            "price_micros": price_micros, "received_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(at)),
            "device": {"cap_ref": None}}


async def test_spend_follows_the_line_items_goal_and_counts_once():
    snap = load_catalog(ROOT / "fixtures" / "catalog.json")
    cpcv = next(li for li in snap.line_items if li.goal == "CPCV")
    cpm = next(li for li in snap.line_items if li.goal == "CPM")
    store = MemoryStore()
    counters = Counters(store, catalog=lambda: snap)
    now = time.time()
    events = [
        event("e1", "impression", cpcv.id, 40_000_000, now),  # CPCV: an impression is free
        event("e2", "complete", cpcv.id, 40_000_000, now),  # ... a completed view pays the rate
        event("e3", "impression", cpm.id, 12_000_000, now),  # CPM: the clearing price / 1000
    ]
    stats = ConsumerStats()
    await counters.apply(events, stats)
    await counters.apply(events, stats)  # redelivered after a consumer restart
    cpcv_spend = (await store.get_ints([delivery_keys(cpcv.id, now, snap.tz_offset_s)[1]]))[0]
    cpm_spend = (await store.get_ints([delivery_keys(cpm.id, now, snap.tz_offset_s)[1]]))[0]
    assert cpcv_spend == cpcv.rate_micros
    assert cpm_spend == 12_000
    assert stats.counted == 3 and stats.duplicates == 3
