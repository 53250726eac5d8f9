"""Frequency caps: counters in the store keyed by device, checked and reserved at decision time.

Store windows (minute, hour, day, week, lifetime) are fixed buckets in the catalog's local
time: key `cap:{device_key}:{scope}:{entity}:{window}:{bucket}`, expiring with the
bucket. Session windows (pod, stream) come from the session's `StreamHistory` and the
breaks already decided in the same call; they never touch the store.

Counting happens once per served ad:
- the engine *reserves* at decision time (`reserve`): INCR every counter the ad feeds,
  and when a result passes one of the line item's caps, decrements them again and drops
  the ad. Two concurrent requests for one device therefore cannot both pass a cap.
  A reservation leaves a marker `capres:{imp_id}` (the list of keys) for a day;
- the beacon consumer counts each impression (`apply_cap_events`, a batch at a time):
  when the marker is there the impression was already counted (the marker is consumed),
  else (the decision came from elsewhere or the marker expired) the counters are
  incremented;
- an error event (or `release_reservation`) undoes a reservation whose ad will never play.

An impression feeds, for each of its entities (creative, line item, campaign,
advertiser), every store window that any line item caps that entity by
(`CatalogSnapshot.counted_windows`), so an advertiser cap counts every line item of it.
"""

from __future__ import annotations

import asyncio
import math
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import orjson

from decision.catalog import WINDOW_SECONDS, Candidate, CatalogSnapshot, cap_entity
from decision.pod import StreamHistory
from store.base import Store

LIFETIME_TTL_S = 400 * 86400.0
MARKER_TTL_S = 86400.0
SCOPES = ("creative", "line_item", "campaign", "advertiser")


def bucket(window: str, now: float, tz_offset_s: float = 0.0) -> int:
    seconds = WINDOW_SECONDS[window]
    if seconds is None:
        return 0
    local = now + tz_offset_s
    if window == "week":  # weeks start on Monday; the epoch was a Thursday
        local += 3 * 86400.0
    return int(math.floor(local / seconds))


def cap_key(device_key: str, scope: str, entity: str, window: str, now: float, tz_offset_s: float = 0.0) -> str:
    return f"cap:{device_key}:{scope}:{entity}:{window}:{bucket(window, now, tz_offset_s)}"


def key_ttl(window: str) -> float:
    seconds = WINDOW_SECONDS[window]
    return LIFETIME_TTL_S if seconds is None else seconds + 60.0


def _entities(snapshot: CatalogSnapshot, line_item_id: str, creative_id: str) -> list[tuple[str, str]]:
    li = snapshot.line_item(line_item_id)
    return [("creative", creative_id), ("line_item", li.id), ("campaign", li.campaign_id),
            ("advertiser", li.advertiser_id)]


_COUNTED: weakref.WeakKeyDictionary[CatalogSnapshot, dict[tuple[str, str], tuple[tuple[str, str, float], ...]]] = \
    weakref.WeakKeyDictionary()


def _counted(snapshot: CatalogSnapshot, line_item_id: str, creative_id: str) -> tuple[tuple[str, str, float], ...]:
    """(`scope:entity:window`, window, ttl) of every counter an impression feeds, in
    `counter_ops` order; memoised per snapshot (the same ad is reserved again and again)."""
    memo = _COUNTED.get(snapshot)
    if memo is None:
        memo = _COUNTED[snapshot] = {}
    hit = memo.get((line_item_id, creative_id))
    if hit is None:
        hit = tuple((f"{scope}:{entity}:{window}", window, key_ttl(window))
                    for scope, entity in _entities(snapshot, line_item_id, creative_id)
                    for window in snapshot.counted_windows.get((scope, entity), ()))
        if len(memo) > 200_000:
            memo.clear()
        memo[(line_item_id, creative_id)] = hit
    return hit


def counter_ops(snapshot: CatalogSnapshot, device_key: str, line_item_id: str, creative_id: str,
                now: float, amount: int = 1, buckets: dict[str, int] | None = None) -> list[tuple[str, int, float | None]]:
    """The (key, amount, ttl) increments one impression makes (`buckets`: `window_buckets`
    of `now`, when the caller has them)."""
    counted = _counted(snapshot, line_item_id, creative_id)
    if not counted:
        return []
    if buckets is None:
        buckets = window_buckets(now, snapshot.tz_offset_s)
    return [(f"cap:{device_key}:{mid}:{buckets[window]}", amount, ttl) for mid, window, ttl in counted]


@dataclass
class SessionCounts:
    """Counts per (scope, entity) for the stream so far (history plus earlier breaks)."""

    counts: dict[tuple[str, str], int]

    @classmethod
    def from_history(cls, history: StreamHistory | None) -> SessionCounts:
        counts: dict[tuple[str, str], int] = {}
        if history is not None:
            for scope, ids in (("creative", history.creative_ids), ("line_item", history.line_item_ids),
                               ("campaign", history.campaign_ids), ("advertiser", history.advertiser_ids)):
                for i in ids:
                    counts[(scope, i)] = counts.get((scope, i), 0) + 1
        return cls(counts)

    def add(self, candidate: Candidate) -> None:
        for scope in SCOPES:
            k = (scope, cap_entity(candidate, scope))
            self.counts[k] = self.counts.get(k, 0) + 1


def window_buckets(now: float, tz_offset_s: float) -> dict[str, int]:
    return {w: bucket(w, now, tz_offset_s) for w in WINDOW_SECONDS}


def keys_to_read(candidates: Sequence[Candidate], device_key: str, buckets: dict[str, int]) -> list[str]:
    keys: dict[str, None] = {}
    for c in candidates:
        for _, window, scope, entity in c.cap_specs:
            if window in buckets:
                keys[f"cap:{device_key}:{scope}:{entity}:{window}:{buckets[window]}"] = None
    return list(keys)


def cap_violation(candidate: Candidate, device_key: str, buckets: dict[str, int], counts: dict[str, int],
                  stream: SessionCounts) -> str | None:
    """The first cap the candidate has reached (a description), or None. Pod caps are
    enforced by podding (at most one per pod: see decision/podding.py)."""
    for n, window, scope, entity in candidate.cap_specs:
        if window == "stream":
            seen = stream.counts.get((scope, entity), 0)
        elif window == "pod":
            continue
        else:
            seen = counts.get(f"cap:{device_key}:{scope}:{entity}:{window}:{buckets[window]}", 0)
        if seen >= n:
            return f"{n}/{window} per {scope} {entity} (seen {seen})"
    return None


async def reserve(store: Store, snapshot: CatalogSnapshot, device_key: str, ads: Sequence[tuple[Candidate, str]],
                  now: float, counts: dict[str, int], *, marker_ttl_s: float | None = MARKER_TTL_S) -> list[bool]:
    """Reserve caps for (candidate, imp_id) pairs in one round trip; an ad whose new counts
    pass one of its line item's caps is rolled back. Returns which ads hold; updates `counts`."""
    ops: list[tuple[str, int, float | None]] = []
    spans = []
    buckets = window_buckets(now, snapshot.tz_offset_s)
    for cand, _ in ads:
        mine = counter_ops(snapshot, device_key, cand.line_item.id, cand.creative.id, now, buckets=buckets)
        spans.append((len(ops), len(mine)))
        ops += mine
    if not ops:
        return [True] * len(ads)
    values = await store.incr_many(ops)
    seen = dict(zip((k for k, _, _ in ops), values, strict=True))
    ok: list[bool] = []
    rollback: list[tuple[str, int, float | None]] = []
    for (cand, _), (start, length) in zip(ads, spans, strict=True):
        fine = True
        for n, window, scope, entity in cand.cap_specs:
            if window in buckets and seen.get(f"cap:{device_key}:{scope}:{entity}:{window}:{buckets[window]}", 0) > n:
                fine = False
                break
        ok.append(fine)
        if not fine:
            rollback += [(k, -1, None) for k, _, _ in ops[start:start + length]]
    for k, v in seen.items():
        counts[k] = v
    if rollback:
        for k, v in zip((k for k, _, _ in rollback), await store.incr_many(rollback), strict=True):
            counts[k] = v
    if marker_ttl_s:
        await asyncio.gather(*(
            store.set(f"capres:{imp_id}", orjson.dumps([k for k, _, _ in ops[start:start + length]]), marker_ttl_s)
            for (_, imp_id), (start, length), fine in zip(ads, spans, ok, strict=True) if fine and length))
    return ok


class CapEvent(NamedTuple):
    """One beacon that matters to caps: an `impression` (count it, unless its decision's
    reservation already did) or an `error` before the impression (undo the reservation).
    A NamedTuple, immutable all the same: the event counter builds one per impression,
    and a frozen dataclass pays an `object.__setattr__` per field (see
    `beacons.validate.RawBeacon`)."""

    kind: str
    imp_id: str | None
    device_key: str = ""
    line_item_id: str = ""
    creative_id: str = ""
    at: float = 0.0


async def cap_event_ops(store: Store, snapshot: CatalogSnapshot | None, events: Sequence[CapEvent],
                        ) -> tuple[list[tuple[str, int, float | None]], list[bool]]:
    """Consume the reservation markers of `events` (one round trip) and return the counter
    increments they call for, unapplied, so a caller can send them with its other counters;
    plus, per event, whether it changes counts (an impression counted now, an error that
    undoes a reservation). An impression whose marker was there was counted at decision
    time; unknown line items (an older catalog, or no snapshot) count nothing."""
    popped = iter(await store.pop_many([f"capres:{e.imp_id}" for e in events if e.imp_id]))
    ops: list[tuple[str, int, float | None]] = []
    changed: list[bool] = []
    for e in events:
        marker = next(popped) if e.imp_id else None
        if e.kind == "impression":
            known = marker is None and snapshot is not None and e.line_item_id in snapshot.line_item_index
            if known:
                ops += counter_ops(snapshot, e.device_key, e.line_item_id, e.creative_id, e.at)
            changed.append(known)
        else:
            if marker is not None:
                ops += [(k, -1, None) for k in orjson.loads(marker)]
            changed.append(marker is not None)
    return ops, changed


async def apply_cap_events(store: Store, snapshot: CatalogSnapshot | None, events: Sequence[CapEvent]) -> list[bool]:
    """`cap_event_ops`, applied: two round trips for any number of events."""
    ops, changed = await cap_event_ops(store, snapshot, events)
    if ops:
        await store.incr_many(ops)
    return changed


async def record_impression(store: Store, snapshot: CatalogSnapshot, *, device_key: str, line_item_id: str,
                            creative_id: str, at: float, imp_id: str | None = None) -> bool:
    """Count one impression for frequency capping. True when counters were incremented,
    False when the decision's reservation had already counted it (or the line item is
    unknown). Batches go through `apply_cap_events`."""
    event = CapEvent("impression", imp_id, device_key, line_item_id, creative_id, at)
    return (await apply_cap_events(store, snapshot, [event]))[0]


async def release_reservation(store: Store, imp_id: str) -> bool:
    """Undo a decision-time reservation whose ad will not play. True when one was undone."""
    return (await apply_cap_events(store, None, [CapEvent("error", imp_id)]))[0]
