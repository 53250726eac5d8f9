"""The simulation loop: the real engine on a virtual clock, beacons into the counters.

Per request, in time order: refresh pacing whenever the virtual clock passes a refresh
instant (as the gateway's refresh loop does), `Engine.decide`, then the response model
plays the pod: an ad that renders counts its impression through the same functions the
beacon consumer calls (`decision.caps.record_impression`; the pacing counters of
`decision.pacing.delivery_ops` with `spend_for_event`, batched and flushed before each
pacing refresh as the consumer batches them), an ad that does not render releases its
cap reservation. The
simulator keeps its own ledger of what it served to count frequency-cap and separation
violations independently of the engine's bookkeeping.
"""

from __future__ import annotations

import gc
import math
import random
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np

from decision.auction import AuctionConfig
from decision.caps import record_impression, release_reservation
from decision.catalog import WINDOW_SECONDS, CatalogSnapshot
from decision.engine import Engine, EngineConfig
from decision.forecast import HOUR
from decision.pacing import (
    DAY,
    PacingController,
    day_label,
    delivery_ops,
    hour_label,
    spend_for_event,
)
from decision.pacing_gate import OpenGate
from decision.pod import StreamHistory
from decision.priors import PriorScorer
from decision.sim.world import WorldConfig
from store.memory import MemoryStore

__all__ = ["SimConfig", "SimRun", "default_start"]


@dataclass(frozen=True)
class SimConfig:
    """One configuration of the system under simulation (A/B compares two)."""

    name: str = "A"
    pacing: bool = True
    refresh_interval_s: float = 10.0
    frontload: float = 0.5
    safety: float = 2.0
    smoothing_s: float = 900.0
    catch_up_s: float = 1800.0  # the controller's integral time (PacingController.catch_up_s)
    catch_up_share: float = 0.04  # PacingController.catch_up_share
    prior_exposure: float = 2.0  # offers the win-rate prior is worth (PacingController.prior_exposure)
    history_days: int = 7  # days of hourly request counters seeded into the store
    auction_mode: str = "first"
    max_ads: int = 6
    stream_separation: bool = True
    reserve_caps: bool = True
    budget_scale: float = 1.0  # multiplies every catalog budget
    line_items: int | None = None  # simulate only the first N line items of the catalog
    world: WorldConfig = field(default_factory=WorldConfig)

    def engine_config(self) -> EngineConfig:
        return EngineConfig(max_ads=self.max_ads, stream_separation=self.stream_separation,
                            reserve_caps=self.reserve_caps, podding_time_box_s=None,
                            auction=AuctionConfig(mode=self.auction_mode))

    def with_overrides(self, **kw: Any) -> SimConfig:
        world_keys = {k: v for k, v in kw.items() if k in WorldConfig.__dataclass_fields__}
        own = {k: v for k, v in kw.items() if k not in world_keys}
        unknown = set(own) - set(SimConfig.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown simulation setting(s): {', '.join(sorted(unknown))}")
        cfg = replace(self, **own)
        return replace(cfg, world=replace(cfg.world, **world_keys)) if world_keys else cfg


def default_start(snapshot: CatalogSnapshot) -> float:
    """The first local midnight inside the flights of the catalog's budgeted line items
    (so they are live for the whole run), else 2026-03-02 (a Monday)."""
    tz = snapshot.tz_offset_s
    budgeted = [li for li in snapshot.line_items
                if li.daily_budget_micros is not None or li.lifetime_budget_micros is not None]
    if budgeted:
        latest_start = max(li.start for li in budgeted)
        midnight = math.ceil((latest_start + tz) / 86400.0) * 86400.0 - tz
        if all(midnight + 86400.0 <= li.end for li in budgeted):
            return midnight
    return datetime(2026, 3, 2, tzinfo=UTC).timestamp() - tz


def _bucket(window: str, at: float, tz: float) -> int:
    """The simulator's own reading of fixed cap windows (local time; weeks from Monday)."""
    seconds = WINDOW_SECONDS[window]
    if seconds is None:
        return 0
    local = at + tz + (3 * 86400.0 if window == "week" else 0.0)
    return int(local // seconds)


class _Progress:
    def __init__(self, total: int, label: str, enabled: bool) -> None:
        self.total = max(1, total)
        self.label = label
        self.enabled = enabled
        self.t0 = time.perf_counter()
        self.next = 0

    def update(self, done: int, now: float) -> None:
        if not self.enabled or done < self.next:
            return
        self.next = done + max(1, self.total // 200)
        frac = min(1.0, done / self.total)
        bar = "#" * int(frac * 30)
        wall = time.perf_counter() - self.t0
        eta = wall / frac - wall if frac > 0 else 0.0
        clock = datetime.fromtimestamp(now, UTC).strftime("%a %H:%M")
        sys.stderr.write(f"\r{self.label} [{bar:<30}] {frac:6.1%} {done:,}/{self.total:,} req  sim {clock} UTC  "
                         f"wall {wall:5.0f}s  eta {eta:4.0f}s ")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            self.update(self.total, time.time())
            sys.stderr.write("\n")


@dataclass
class _LineStats:
    spend: np.ndarray
    impressions: np.ndarray
    completes: np.ndarray
    clicks: np.ndarray
    served: np.ndarray


class SimRun:
    """One run of one configuration over one traffic source."""

    def __init__(self, snapshot: CatalogSnapshot, traffic: Any, config: SimConfig, *, seed: int,
                 response: Any = None, progress: bool = True) -> None:
        self.snapshot = snapshot
        self.traffic = traffic
        self.config = config
        self.seed = seed
        self.response = response or traffic
        self.progress = progress
        self.now = traffic.start
        # the scheduled events the pacing forecast knows of: the catalog's and the world's
        self.events = (*getattr(snapshot, "traffic_events", ()),
                       *(traffic.scheduled_events() if hasattr(traffic, "scheduled_events") else ()))
        clock: Callable[[], float] = lambda: self.now  # noqa: E731 - the virtual clock
        self.clock = clock
        self.store = MemoryStore(clock=clock, sweep_every=1 << 40)
        self.controller: PacingController | None = None
        gate: Any = OpenGate()
        if config.pacing:
            self.controller = PacingController(
                self.store, clock=clock, refresh_interval_s=config.refresh_interval_s,
                tz_offset_s=snapshot.tz_offset_s, smoothing_s=config.smoothing_s, frontload=config.frontload,
                safety=config.safety, catch_up_s=config.catch_up_s, prior_exposure=config.prior_exposure,
                catch_up_share=config.catch_up_share, metrics=False)
            self.controller.set_catalog(snapshot)
            self.controller.set_events(self.events)
            gate = self.controller
        self.engine = Engine(snapshot, store=self.store, clock=clock, rng=random.Random(seed), scorer=PriorScorer(),
                             pacing=gate, config=config.engine_config())
        n_hours = len(traffic.hour_counts)
        self.n_hours = n_hours
        self.lines = {li.id: _LineStats(*(np.zeros(n_hours) for _ in range(5))) for li in snapshot.line_items}
        self.requests = np.zeros(n_hours, dtype=np.int64)
        self.break_s = np.zeros(n_hours)
        self.filled_s = np.zeros(n_hours)
        self.revenue = np.zeros(n_hours)
        self.impressions = np.zeros(n_hours, dtype=np.int64)
        self.tiers: Counter[str] = Counter()
        self.ad_tiers: Counter[str] = Counter()
        self.latencies = np.zeros(int(sum(traffic.hour_counts)))
        self.cap_violations = 0
        self.separation_violations = 0
        self.separation_by_scope: Counter[str] = Counter()
        self.violation_examples: list[dict[str, Any]] = []
        self._ledger: dict[tuple, int] = defaultdict(int)
        # delivery counted since the last refresh, (line item, local day) -> [spend, imps]:
        # the beacon consumer batches counter updates the same way
        self._pending: dict[tuple[str, str], list[int]] = {}
        self._li_ids = [li.id for li in snapshot.line_items]
        # per line item and hour: requests it was eligible for, participation x seconds
        self.eligible = np.zeros((len(self._li_ids), n_hours), dtype=np.int64)
        self.participation_s = np.zeros((len(self._li_ids), n_hours))
        self._elig_seen = np.zeros(len(self._li_ids), dtype=np.int64)
        # the (scope, window) pairs some cap counts in a store window: the only ones the ledger needs
        windows: dict[str, set[str]] = defaultdict(set)
        for li in snapshot.line_items:
            for c in li.caps:
                if c.window in WINDOW_SECONDS:
                    windows[c.scope].add(c.window)
        self._windows = {scope: tuple(sorted(ws)) for scope, ws in windows.items()}
        self.wall_s = 0.0
        self._elig_hour = 0

    async def seed_history(self) -> None:
        if not self.config.history_days:
            return
        counts = self.traffic.history(self.config.history_days)
        if counts:
            await self.store.incr_many([(f"pace:req:h:{hour_label(h)}", int(c), None) for h, c in counts.items()])

    async def run(self) -> None:
        # the catalog, world and engine caches are long-lived: keep the cyclic collector from
        # re-scanning them (a full collection walks every object) while the loop allocates
        gc.collect()
        gc.freeze()
        try:
            await self._run()
        finally:
            gc.unfreeze()

    async def _run(self) -> None:
        await self.seed_history()
        interval = self.config.refresh_interval_s
        controller = self.controller
        next_refresh = self.traffic.start
        progress = _Progress(len(self.latencies), f"simulate {self.config.name}", self.progress)
        done = 0
        t_start = time.perf_counter()
        decide = self.engine.decide
        perf = time.perf_counter
        refresh = self._refresh
        for batch in self.traffic.hours_iter():
            # per stream: the ads shown so far, and the same as the engine's StreamHistory
            histories: dict[str, tuple[list, StreamHistory]] = {}
            h = batch.hour
            times = batch.times.tolist()
            n_req, break_s, filled_s = 0, 0.0, 0.0
            for i, request in enumerate(batch.requests):
                t = times[i]
                if controller is not None:
                    if next_refresh <= t:
                        while next_refresh <= t:
                            await refresh(next_refresh, h)
                            next_refresh += interval
                    controller.note_request(1)
                self.now = t
                sid = batch.streams[i]
                stream = histories.get(sid)
                shown, history = stream if stream is not None else ([], None)
                brk = batch.breaks[i]
                t0 = perf()
                pods = await decide(request, [brk], history)
                self.latencies[done] = perf() - t0
                done += 1
                n_req += 1
                for pod in pods:
                    break_s += pod.break_spec.duration_s
                    filled_s += pod.filled_s
                    self.tiers[pod.fallback_tier] += 1
                    if pod.ads:
                        self._check_separation(pod, shown)
                        await self._play(pod, request, t, batch.uniforms[i], h, sid, shown)
                        histories[sid] = (shown + list(pod.ads), (history or StreamHistory()).extended(pod.ads))
                if done % 512 == 0:
                    progress.update(done, t)
            self.requests[h] += n_req
            self.break_s[h] += break_s
            self.filled_s[h] += filled_s
        if controller is not None:
            end = self.traffic.start + self.traffic.hours * HOUR
            while next_refresh <= end:
                await refresh(next_refresh, min(self.n_hours - 1, int((next_refresh - self.traffic.start) // HOUR)))
                next_refresh += interval
            await self._count_eligible(self.n_hours - 1)
        else:
            await self._flush()
        progress.close()
        self.wall_s = time.perf_counter() - t_start

    async def _flush(self) -> None:
        """Write the delivery counted since the last flush into the pacing counters."""
        if not self._pending:
            return
        ops: list[tuple[str, int, float | None]] = []
        for (li, day), (spend, imps) in self._pending.items():
            ops += delivery_ops(li, day_label(day * DAY), spend, imps)  # `day` is a local day index
        self._pending.clear()
        if ops:
            await self.store.incr_many(ops)

    async def _refresh(self, at: float, h: int) -> None:
        """What the gateway's refresh loop does on the virtual clock, plus the run's own
        bookkeeping: eligible requests per line item and hour, participation over time."""
        controller = self.controller
        assert controller is not None
        self.now = at
        hour = min(self.n_hours - 1, max(0, int((at - self.traffic.start) // HOUR)))
        if hour != self._elig_hour:
            await self._count_eligible(self._elig_hour)
            self._elig_hour = hour
        await self._flush()
        await controller.refresh(at)
        rates = controller.rates()
        self.participation_s[:, hour] += np.fromiter((rates.get(li, 1.0) for li in self._li_ids), np.float64,
                                                     len(self._li_ids)) * self.config.refresh_interval_s

    async def _count_eligible(self, hour: int) -> None:
        got = np.array(await self.store.get_ints([f"pace:elig:{li}:total" for li in self._li_ids]), dtype=np.int64)
        self.eligible[:, hour] += np.maximum(0, got - self._elig_seen)
        self._elig_seen = got

    async def _play(self, pod: Any, request: Any, t: float, uniforms: np.ndarray, h: int, sid: str,
                    shown: list) -> None:
        snap = self.snapshot
        store = self.store
        device = request.device_key
        pod_counts: Counter[tuple[str, str]] = Counter()
        stream_counts: Counter[tuple[str, str]] = Counter()
        for a in shown:
            for key in (("creative", a.creative.id), ("line_item", a.line_item_id), ("campaign", a.campaign_id),
                        ("advertiser", a.advertiser_id)):
                stream_counts[key] += 1
        for j, ad in enumerate(pod.ads):
            li = snap.line_item(ad.line_item_id)
            stats = self.lines[li.id]
            stats.served[h] += 1
            self.ad_tiers[ad.tier] += 1
            at = t + ad.offset_s
            entities = (("creative", ad.creative.id), ("line_item", li.id), ("campaign", li.campaign_id),
                        ("advertiser", li.advertiser_id))
            for key in entities:
                pod_counts[key] += 1
                stream_counts[key] += 1
            if self.controller is not None:
                estimate = li.rate_micros * li.prior_completion if li.goal == "CPCV" else ad.price_micros / 1000
                self.controller.note_served(li.id, estimate)
            u = uniforms[j] if j < len(uniforms) else np.random.default_rng([self.seed, h, j]).random(3)
            if u[0] >= self.response.config.p_render:
                await release_reservation(store, ad.imp_id)
                continue
            await record_impression(store, snap, device_key=device, line_item_id=li.id,
                                    creative_id=ad.creative.id, at=at, imp_id=ad.imp_id)
            # caps count at decision time, like the engine's reservation (an ad that
            # starts a few seconds into the next window still belongs to this one)
            self._check_caps(li, ad, device, t, entities, pod_counts, stream_counts)
            p_complete, p_click = self.response.true_rates(request, li, ad.creative.duration_s)
            completed = u[1] < p_complete
            clicked = u[2] < p_click
            spend = spend_for_event(li.goal, "impression", ad.price_micros)
            if completed and li.goal == "CPCV":
                spend += spend_for_event(li.goal, "complete", ad.price_micros, li.rate_micros)
            day = int((at + snap.tz_offset_s) // DAY)
            pending = self._pending.get((li.id, day))
            if pending is None:
                pending = self._pending[(li.id, day)] = [0, 0]
            pending[0] += spend
            pending[1] += 1
            stats.spend[h] += spend
            stats.impressions[h] += 1
            stats.completes[h] += completed
            stats.clicks[h] += clicked
            self.revenue[h] += spend
            self.impressions[h] += 1

    def _check_caps(self, li: Any, ad: Any, device: str, at: float, entities: tuple,
                    pod_counts: Counter, stream_counts: Counter) -> None:
        tz = self.snapshot.tz_offset_s
        ledger = self._ledger
        windows = self._windows
        for scope, entity in entities:
            for window in windows.get(scope, ()):
                ledger[(device, scope, entity, window, _bucket(window, at, tz))] += 1
        ids = dict(entities)
        for cap in li.caps:
            entity = ids[cap.scope]
            if cap.window == "pod":
                seen = pod_counts[(cap.scope, entity)]
            elif cap.window == "stream":
                seen = stream_counts[(cap.scope, entity)]
            else:
                seen = ledger[(device, cap.scope, entity, cap.window, _bucket(cap.window, at, tz))]
            if seen > cap.n:
                self.cap_violations += 1
                if len(self.violation_examples) < 20:
                    self.violation_examples.append({"kind": "cap", "line_item": li.id, "device": device,
                                                    "cap": f"{cap.n}/{cap.window}/{cap.scope}", "seen": seen,
                                                    "at": at})

    def _check_separation(self, pod: Any, shown: list) -> None:
        cfg = self.engine.config
        seen: dict[tuple[str, str], str] = {}
        for ad in pod.ads:
            keys = [("creative", ad.creative.id)]
            if cfg.separate_advertisers:
                keys.append(("advertiser", ad.advertiser_id))
            if cfg.separate_categories:
                keys.append(("category", ad.creative.iab_category))
            if cfg.separate_labels:
                keys += [("label", x) for x in ad.exclusion_labels]
            for key in keys:
                if key in seen:
                    self._separation_violation("pod", pod, ad, key)
                seen[key] = ad.imp_id
        if not self.config.stream_separation:
            return
        owners: dict[tuple[str, str], set[str]] = {}
        for a in shown:
            owners.setdefault(("category", a.creative.iab_category), set()).add(a.advertiser_id)
            for x in a.exclusion_labels:
                owners.setdefault(("label", x), set()).add(a.advertiser_id)
        for ad in pod.ads:
            for key in (("category", ad.creative.iab_category), *(("label", x) for x in ad.exclusion_labels)):
                who = owners.get(key)
                if who and ad.advertiser_id not in who:
                    self._separation_violation("stream", pod, ad, key)

    def _separation_violation(self, scope: str, pod: Any, ad: Any, key: tuple[str, str]) -> None:
        self.separation_violations += 1
        self.separation_by_scope[scope] += 1
        if len(self.violation_examples) < 20:
            self.violation_examples.append({"kind": f"separation_{scope}", "pod": pod.pod_id,
                                            "line_item": ad.line_item_id, "key": list(key)})
