"""The decision engine: stages over one request, with the world passed in.

    engine = Engine(snapshot, store=store, clock=time.time, rng=random.Random(seed),
                    scorer=PriorScorer(), pacing=OpenGate(), config=EngineConfig())
    pods = await engine.decide(request, [BreakSpec("b1", 30.0)], history, trace=True)

`clock()` gives epoch seconds (the simulator passes a virtual clock); `rng` draws pacing
throttles and ids, so a seeded engine on a virtual clock is deterministic (set
`EngineConfig.podding_time_box_s=None` to remove the one wall-clock dependency).

Per request: retrieval (targeting index) -> line-item filters (flight, daypart, rating,
privacy) -> candidate filters (renditions, policy) -> pacing gate -> frequency caps ->
one batched `Scorer.score` -> eCPM and floors. Then per break, in order: duration,
stream separation and caps again (earlier breaks of the same call count), rank cutoff,
podding, cap reservation (re-solving the rest of the break when a reservation loses a
race), clearing prices. Several breaks in one call (VMAP) share caps and separation.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from decision.auction import (
    AuctionConfig,
    Bid,
    clearing_price,
    context_floor,
    ecpm_micros,
    floors,
    values,
)
from decision.caps import SessionCounts, cap_violation, reserve, window_buckets
from decision.catalog import (
    TIER_RANK,
    TIERS,
    WINDOW_SECONDS,
    Candidate,
    CatalogSnapshot,
    cap_entity,
)
from decision.pacing_gate import OpenGate, PacingGate
from decision.pod import BreakSpec, PlacedAd, Pod, StreamHistory
from decision.podding import PodConstraints, PodItem, solve
from decision.podding import order as pod_order
from decision.policy import Policy, PolicyConfig
from decision.priors import PriorScorer
from decision.request import AdRequest
from decision.scoring import ScoreBatch, Scorer
from decision.targeting import DOW, daypart_of, norm
from decision.trace import Trace
from store.base import Store

TIER_NAMES = {4: "sponsorship", 3: "standard", 2: "programmatic", 1: "house"}


@dataclass(frozen=True)
class EngineConfig:
    max_ads: int = 6  # per pod, unless the break or request says fewer
    max_ad_duration_s: float | None = None
    separate_advertisers: bool = True  # pod scope: one ad per advertiser
    separate_categories: bool = True  # pod scope: one ad per IAB category
    separate_labels: bool = True  # pod scope: one ad per exclusion label
    stream_separation: bool = True  # stream scope: no competitor (same category or label, other advertiser)
    max_scored: int = 256  # candidates (by eCPM upper bound) that go on to caps and scoring
    tier_reserve: int = 16  # ... plus the best of each tier, so lower tiers can backfill
    max_bids: int = 40  # best bids per break handed to podding
    podding_time_box_s: float | None = 0.005
    score_timeout_s: float = 0.010
    reserve_caps: bool = True
    reserve_rounds: int = 3
    auction: AuctionConfig = field(default_factory=AuctionConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)


def build_context(request: AdRequest, now: float, tz_offset_s: float, position: str | None) -> dict[str, frozenset[str]]:
    """Targeting attributes of a request (see decision/targeting.py)."""
    local = datetime.fromtimestamp(now + tz_offset_s, tz=UTC)
    pairs = {
        "country": request.country, "region": request.region, "dma": request.dma,
        "device_type": request.device_type, "genre": request.genre, "rating": request.rating,
        "channel": request.channel, "live": request.live, "daypart": daypart_of(local.hour),
        "dow": DOW[local.weekday()], "position": position,
    }
    ctx = {k: frozenset((norm(v),)) for k, v in pairs.items() if v is not None and v != ""}
    if request.segments and request.personalised:
        ctx["segment"] = frozenset(norm(s) for s in request.segments)
    return ctx


@dataclass
class _Separation:
    """Stream-scope owners: category/label -> advertisers that showed it."""

    owners: dict[tuple[str, str], set[str]]

    @classmethod
    def from_history(cls, history: StreamHistory | None) -> _Separation:
        owners: dict[tuple[str, str], set[str]] = {}
        if history is not None and history.shown:
            for ad in history.shown:
                if ad.iab_category:
                    owners.setdefault(("k", ad.iab_category), set()).add(ad.advertiser_id)
                for label in ad.exclusion_labels:
                    owners.setdefault(("l", label), set()).add(ad.advertiser_id)
        elif history is not None:
            advs = set(history.advertiser_ids)
            for cat in history.iab_categories:
                owners.setdefault(("k", cat), set()).update(advs)
            for label in history.exclusion_labels:
                owners.setdefault(("l", label), set()).update(advs)
        return cls(owners)

    def conflict(self, c: Candidate) -> str | None:
        adv = c.line_item.advertiser_id
        for key in (("k", c.creative.iab_category), *(("l", x) for x in c.line_item.exclusion_labels)):
            owners = self.owners.get(key)
            if owners and adv not in owners:
                return f"{'category' if key[0] == 'k' else 'label'} {key[1]} shown by {sorted(owners)[0]}"
        return None

    def add(self, c: Candidate) -> None:
        adv = c.line_item.advertiser_id
        self.owners.setdefault(("k", c.creative.iab_category), set()).add(adv)
        for x in c.line_item.exclusion_labels:
            self.owners.setdefault(("l", x), set()).add(adv)


class _Prepared:
    """What a snapshot lets the engine derive once instead of per request: static values,
    floor masks per floor pair, per-request-context masks (LRU: contexts repeat), and the
    frequency caps of every candidate resolved to counter ids."""

    CONTEXT_LRU = 512

    def __init__(self, snap: CatalogSnapshot, config: EngineConfig) -> None:
        arr = snap.arrays
        self.snap = snap
        self.ub_value = values(arr.c_tier_rank, arr.c_ub_ecpm)
        # the flight filter only changes at a start or end instant: key it by the interval `now` is in
        self.flight_bounds = np.unique(np.concatenate([arr.li_start, arr.li_end]))
        self.within: dict[tuple, np.ndarray] = {}
        self.static: dict[tuple, np.ndarray] = {}
        self.floor_ok: dict[tuple[float, float], np.ndarray] = {}
        self.masks: OrderedDict[tuple, np.ndarray] = OrderedDict()
        # caps: the store-window checks of every candidate, flattened in spec order (CSR:
        # candidate i owns cap_id[cap_ptr[i]:cap_ptr[i + 1]]), counters numbered; stream-window
        # checks stay per candidate (they only matter with a history)
        cap_ids: dict[tuple[str, str, str], int] = {}
        ptr = [0]
        flat_id: list[int] = []
        flat_n: list[int] = []
        stream_checks: list[tuple[tuple[int, tuple[str, str]], ...]] = []
        for c in snap.candidates:
            mine: list[tuple[int, tuple[str, str]]] = []
            for n, window, scope, entity in c.cap_specs:
                if window == "stream":
                    mine.append((n, (scope, entity)))
                elif window in WINDOW_SECONDS:
                    flat_id.append(cap_ids.setdefault((scope, entity, window), len(cap_ids)))
                    flat_n.append(n)
            ptr.append(len(flat_id))
            stream_checks.append(tuple(mine))
        self.cap_ptr = np.array(ptr, dtype=np.int64)
        self.cap_id = np.array(flat_id, dtype=np.int64)
        self.cap_n = np.array(flat_n, dtype=np.int64)
        self.c_capped = np.array([bool(c.cap_specs) for c in snap.candidates], dtype=bool)
        self.c_li_grouped = bool(np.all(arr.c_li[1:] >= arr.c_li[:-1]))
        self.stream_checks = stream_checks
        self.cap_mid = [(f"{scope}:{entity}:{window}", window) for (scope, entity, window) in cap_ids]
        self._suffix_buckets: dict[str, int] | None = None
        self._suffix: dict[int, str] = {}

    def cap_suffixes(self, buckets: dict[str, int]) -> dict[int, str]:
        """`scope:entity:window:bucket` per counter id, for the current buckets."""
        if buckets != self._suffix_buckets:
            self._suffix_buckets = buckets
            self._suffix = {}
        return self._suffix

    def cap_key_suffix(self, suffix: dict[int, str], cid: int, buckets: dict[str, int]) -> str:
        mid, window = self.cap_mid[cid]
        out = suffix[cid] = f"{mid}:{buckets[window]}"
        return out

    def flight_epoch(self, now: float) -> int:
        return int(np.searchsorted(self.flight_bounds, now, side="right"))

    def cached_mask(self, key: tuple) -> np.ndarray | None:
        hit = self.masks.get(key)
        if hit is not None:
            self.masks.move_to_end(key)
        return hit

    def store_mask(self, key: tuple, mask: np.ndarray) -> None:
        self.masks[key] = mask
        if len(self.masks) > self.CONTEXT_LRU:
            self.masks.popitem(last=False)



def served_by(batch: ScoreBatch) -> tuple[str, str]:
    """(completion, click) source of a batch's scores: the `name@version` the scorer names
    per target (`meta["models"]`), else its single version ("priors"), else its tier."""
    models = (batch.meta or {}).get("models") or {}
    fallback = batch.versions[0] if len(batch.versions) == 1 else batch.tier
    return models.get("complete", fallback), models.get("click", fallback)


class Engine:
    def __init__(self, catalog: CatalogSnapshot, *, store: Store, clock: Callable[[], float] = time.time,
                 rng: random.Random | None = None, scorer: Scorer | None = None, pacing: PacingGate | None = None,
                 config: EngineConfig | None = None) -> None:
        self._catalog = catalog
        self.store = store
        self.clock = clock
        self.rng = rng or random.Random()
        self.priors = PriorScorer()
        self.scorer: Scorer = scorer or self.priors
        self.pacing: PacingGate = pacing or OpenGate()
        self.config = config or EngineConfig()
        self.policy = Policy(self.config.policy)
        self._conflict_cache: dict[Candidate, frozenset] = {}
        self._prepared: _Prepared | None = None

    def _prepare(self, snap: CatalogSnapshot) -> _Prepared:
        prep = self._prepared
        if prep is None or prep.snap is not snap:
            prep = self._prepared = _Prepared(snap, self.config)
        return prep

    @property
    def catalog(self) -> CatalogSnapshot:
        return self._catalog

    def swap_catalog(self, snapshot: CatalogSnapshot) -> CatalogSnapshot:
        """Replace the snapshot (atomic: a decision in flight keeps the one it started with)."""
        old, self._catalog = self._catalog, snapshot
        self._conflict_cache = {}
        return old

    def _hex(self) -> str:
        return f"{self.rng.getrandbits(128):032x}"

    # -- line-item filters -----------------------------------------------------------
    def _li_stages(self, snap: CatalogSnapshot, request: AdRequest, now: float, position: str,
                   exact: bool = True) -> list[tuple[str, str, np.ndarray]]:
        arr = snap.arrays
        ctx = build_context(request, now, snap.tz_offset_s, position)
        local = datetime.fromtimestamp(now + snap.tz_offset_s, tz=UTC)
        stages = [
            ("flight", "out_of_flight", (arr.li_start <= now) & (now < arr.li_end)),
            ("flight", "daypart", arr.li_hours[:, local.weekday() * 24 + local.hour]),
            ("policy", "rating_not_allowed", arr.li_rating_ok[request.rating]),
        ]
        privacy = [] if request.personalised else [("policy", "privacy_segment_targeting", ~arr.li_uses_segments)]
        if exact:  # privacy first: without consent the context has no segments to match
            return [*privacy, ("retrieval", "targeting", snap.index.match(ctx)), *stages]
        stages += privacy
        within = stages[0][2]
        for st in stages[1:]:
            within = within & st[2]
        return [("retrieval", "targeting", snap.index.match(ctx, within))]

    def _c_stages(self, snap: CatalogSnapshot, request: AdRequest) -> list[tuple[str, str, np.ndarray]]:
        arr = snap.arrays
        verdicts = self.policy.verdicts(snap, request.channel)
        stages = [("compatibility", "no_renditions", arr.c_deliverable)]
        if self.policy.is_kids(request.rating):
            stages.append(("policy", "kids_content", ~verdicts.kids_blocked))
        stages += [("policy", "blocked_domain", ~verdicts.domain_blocked),
                   ("policy", "blocked_category", ~verdicts.category_blocked)]
        return stages

    def _trace_stages(self, tr: Trace, snap: CatalogSnapshot, li_stages, c_stages) -> np.ndarray:
        alive = np.ones(len(snap.line_items), dtype=bool)
        for stage, reason, mask in li_stages:
            for i in np.flatnonzero(alive & ~mask):
                tr.drop(stage, reason, snap.line_items[i].id)
            alive &= mask
            tr.count(f"{stage}:{reason}", int(alive.sum()))
        calive = alive[snap.arrays.c_li]
        for stage, reason, mask in c_stages:
            for i in np.flatnonzero(calive & ~mask):
                c = snap.candidates[i]
                tr.drop(stage, reason, c.line_item.id, c.creative.id)
            calive &= mask
            tr.count(f"{stage}:{reason}", int(calive.sum()))
        return calive

    # -- decide -------------------------------------------------------------------------
    async def decide(self, request: AdRequest, breaks: Sequence[BreakSpec], history: StreamHistory | None = None,
                     *, trace: bool = False) -> tuple[Pod, ...]:
        snap = self._catalog
        cfg = self.config
        now = float(self.clock())
        arr = snap.arrays
        if not breaks:
            return ()
        prep = self._prepare(snap)
        positions = sorted({b.position for b in breaks})
        local = datetime.fromtimestamp(now + snap.tz_offset_s, tz=UTC)
        base = Trace(snap.version, now) if trace else None
        if base is not None:
            base.context = {k: sorted(v) for k, v in build_context(request, now, snap.tz_offset_s, None).items()}

        # line-item and static candidate filters, per break position; the result depends on
        # the request only through this key, so repeated contexts reuse it
        how = local.weekday() * 24 + local.hour
        personalised = request.personalised
        epoch = prep.flight_epoch(now)
        ctx_key = (epoch, how, request.country, request.region, request.dma, request.device_type, request.genre,
                   request.rating, request.channel, request.live, personalised,
                   request.segments if personalised else ())
        c_by_pos: dict[str, np.ndarray] = {}
        for pos in positions:
            key = (*ctx_key, pos)
            mask = prep.cached_mask(key)
            if mask is None:
                within = self._within(prep, snap, request, now, local, epoch, how, personalised)
                li_mask = snap.index.match(build_context(request, now, snap.tz_offset_s, pos), within)
                mask = li_mask[arr.c_li] & self._static_mask(prep, snap, request)
                prep.store_mask(key, mask)
            c_by_pos[pos] = mask
        longest = max(b.duration_s for b in breaks)
        if cfg.max_ad_duration_s is not None:
            longest = min(longest, cfg.max_ad_duration_s)
        union = c_by_pos[positions[0]] if len(positions) == 1 else np.logical_or.reduce(list(c_by_pos.values()))
        union = union & (arr.c_duration <= longest + 1e-6)
        drops: list[tuple[str, str, Candidate, str | None]] = []

        # floors on the eCPM upper bound, then the scoring budget
        ctx_dp = daypart_of(local.hour)
        f_cpm, f_sec = context_floor(snap.floors, cfg.auction, channel=request.channel, genre=request.genre,
                                     daypart=ctx_dp, rating=request.rating)
        floor_ok = prep.floor_ok.get((f_cpm, f_sec))
        if floor_ok is None:
            floor_ok = arr.c_ub_ecpm >= floors(arr.c_duration, arr.c_tier_rank, f_cpm, f_sec, cfg.auction)
            if len(prep.floor_ok) > 64:
                prep.floor_ok.clear()
            prep.floor_ok[(f_cpm, f_sec)] = floor_ok
        if trace:
            below = np.flatnonzero(union & ~floor_ok)
            ub = arr.c_ub_ecpm[below]
            fl = floors(arr.c_duration[below], arr.c_tier_rank[below], f_cpm, f_sec, cfg.auction)
            for i, e, f in zip(below, ub, fl, strict=True):
                drops.append(("auction", "below_floor", snap.candidates[i], f"ecpm {e:.0f} < floor {f:.0f}"))
        idx = np.flatnonzero(union & floor_ok)
        if len(idx) > cfg.max_scored + cfg.tier_reserve:
            idx = self._budget(idx, arr, trace, drops, snap, prep.ub_value)
        all_cands = snap.candidates

        # pacing gate: one draw per line item per request, in first-appearance order
        if not isinstance(self.pacing, OpenGate) and len(idx):
            keep = self._pacing_gate(snap, arr.c_li[idx], now)
            if keep is not None:
                if trace:
                    drops += [("pacing", "paced", all_cands[i], None) for i in idx[~keep].tolist()]
                idx = idx[keep]
        cands = [all_cands[i] for i in idx.tolist()]

        # frequency caps (store windows and stream window): one read of each distinct counter
        device = request.device_key
        counts: dict[str, int] = {}
        buckets = window_buckets(now, snap.tz_offset_s)
        cidx = idx if len(cands) == len(idx) else np.fromiter((c.index for c in cands), np.int64, len(cands))
        capped = bool(prep.c_capped[cidx].any())
        violated: np.ndarray | None = None
        if capped:
            # the store-window counters of the candidates, read once each in first-use order
            start = prep.cap_ptr[cidx]
            lens = prep.cap_ptr[cidx + 1] - start
            total = int(lens.sum())
            ends = np.cumsum(lens)
            flat = np.repeat(start - ends + lens, lens) + np.arange(total)
            fid = prep.cap_id[flat]
            uniq, first, inverse = np.unique(fid, return_index=True, return_inverse=True)
            order = np.argsort(first, kind="stable")
            ids = uniq[order].tolist()
            suffix = prep.cap_suffixes(buckets)
            prefix = f"cap:{device}:"
            keys = [prefix + (suffix.get(i) or prep.cap_key_suffix(suffix, i, buckets)) for i in ids]
            got = await self.store.get_ints(keys)
            counts = dict(zip(keys, got, strict=True))
            if total:
                seen = np.empty(len(ids), dtype=np.int64)
                seen[order] = got
                hit = seen[inverse.reshape(-1)] >= prep.cap_n[flat]
                violated = np.zeros(len(cands), dtype=bool)
                violated[np.repeat(np.arange(len(cands)), lens)[hit]] = True
        stream = SessionCounts.from_history(history)
        separation = _Separation.from_history(history)
        if capped:
            if stream.counts:
                seen_stream = stream.counts
                checks = prep.stream_checks
                extra = [any(seen_stream.get(k, 0) >= n for n, k in checks[c.index]) for c in cands]
                violated = np.array(extra, dtype=bool) if violated is None else violated | np.array(extra, dtype=bool)
            if violated is not None and violated.any():
                kept = []
                for c, bad in zip(cands, violated.tolist(), strict=True):
                    if bad:
                        drops.append(("caps", "frequency_cap", c,
                                      cap_violation(c, device, buckets, counts, stream) if trace else None))
                    else:
                        kept.append(c)
                cands = kept
                cidx = cidx[~violated]

        if cfg.stream_separation and separation.owners:
            kept = []
            for c in cands:
                why = separation.conflict(c)
                if why is None:
                    kept.append(c)
                else:
                    drops.append(("separation", "stream_separation", c, why))
            cands = kept

        # scoring, one batched call
        if len(cands) != len(cidx):
            cidx = np.fromiter((c.index for c in cands), np.int64, len(cands))
        batch = await self._score(request, cands, cidx, arr)
        pc = np.asarray(batch.p_complete, dtype=np.float64) if cands else np.zeros(0)
        ecpm = ecpm_micros(arr.c_rate[cidx], arr.c_cpcv[cidx], pc)
        tier_rank = arr.c_tier_rank[cidx]
        floor = floors(arr.c_duration[cidx], tier_rank, f_cpm, f_sec, cfg.auction)
        above = ecpm >= floor
        if trace:
            for j in np.flatnonzero(~above):
                drops.append(("auction", "below_floor", cands[j], f"ecpm {ecpm[j]:.0f} < floor {floor[j]:.0f}"))
        value = values(tier_rank, ecpm)

        pods = []
        for spec in breaks:
            tr = None
            if base is not None:
                tr = base.fork(spec.break_id)
                self._trace_break_filters(tr, snap, request, now, spec.position)
                for stage, reason, c, detail in drops:
                    if c_by_pos[spec.position][c.index]:
                        tr.drop(stage, reason, c.line_item.id, c.creative.id, detail)
            pod = await self._pod(snap, request, spec, cands, cidx, ecpm, floor, value, above,
                                  c_by_pos[spec.position], counts, stream, separation, now, batch, tr,
                                  recheck=any(p.ads for p in pods), device=device, buckets=buckets)
            pods.append(pod)
        return tuple(pods)

    def _pacing_gate(self, snap: CatalogSnapshot, li_of: np.ndarray, now: float) -> np.ndarray | None:
        """Which candidates (given by their line item's index) pass the pacing gate; None
        when all do. Each distinct line item is asked once; a rate strictly between 0 and
        1 costs one draw of `rng`, the line items taken in first-appearance order."""
        n = len(li_of)
        if self._prepare(snap).c_li_grouped:  # candidates come grouped by line item, idx ascending
            new = np.empty(n, dtype=bool)
            new[0] = True
            np.not_equal(li_of[1:], li_of[:-1], out=new[1:])
            lis = li_of[new]
            group = np.cumsum(new) - 1
        else:
            uniq, first, inverse = np.unique(li_of, return_index=True, return_inverse=True)
            order = np.argsort(first, kind="stable")
            lis = uniq[order]
            rank = np.empty(len(uniq), dtype=np.int64)
            rank[order] = np.arange(len(uniq))
            group = rank[inverse.reshape(-1)]
        many = getattr(self.pacing, "participation_many", None)
        if many is not None:
            p = many(snap, lis, now)
        else:
            line_items = snap.line_items
            p = np.array([self.pacing.participation(line_items[i].id, now) for i in lis.tolist()], dtype=np.float64)
        ok = p >= 1.0
        if ok.all():
            return None
        frac = np.flatnonzero((p > 0.0) & ~ok)
        if len(frac):
            rnd = self.rng.random
            ok[frac] = np.array([rnd() for _ in range(len(frac))]) < p[frac]
        return ok[group]

    def _budget(self, idx: np.ndarray, arr, trace: bool, drops: list, snap: CatalogSnapshot,
                ub_value: np.ndarray) -> np.ndarray:
        """The best `max_scored` candidates by eCPM upper bound within tier, plus the best
        `tier_reserve` of every tier."""
        cfg = self.config
        ubv = ub_value[idx]
        keep = np.zeros(len(idx), dtype=bool)
        top = np.argpartition(-ubv, cfg.max_scored)[:cfg.max_scored]
        keep[top] = True
        cut = ubv[top].min() if len(top) else np.inf  # everything above the cut is kept, ties at it partly
        tiers = arr.c_tier_rank[idx]
        for t in np.flatnonzero(np.bincount(tiers)):
            pos = np.flatnonzero(tiers == t)
            if len(pos) > cfg.tier_reserve:
                tv = ubv[pos]
                if np.count_nonzero(tv > cut) >= cfg.tier_reserve:
                    continue  # the tier's best `tier_reserve` are all above the cut: kept already
                pos = pos[np.argpartition(-tv, cfg.tier_reserve)[:cfg.tier_reserve]]
            keep[pos] = True
        if trace:
            for i in idx[~keep]:
                drops.append(("auction", "rank_cutoff", snap.candidates[i], "scoring budget"))
        return idx[keep]

    def _within(self, prep: _Prepared, snap: CatalogSnapshot, request: AdRequest, now: float, local: datetime,
                epoch: int, how: int, personalised: bool) -> np.ndarray:
        """Flight, daypart, rating and privacy over line items: few distinct values, cached."""
        key = (epoch, how, request.rating, personalised)
        hit = prep.within.get(key)
        if hit is None:
            arr = snap.arrays
            hit = (arr.li_start <= now) & (now < arr.li_end) & arr.li_hours[:, how] & arr.li_rating_ok[request.rating]
            if not personalised:
                hit &= ~arr.li_uses_segments
            if len(prep.within) > 256:
                prep.within.clear()
            prep.within[key] = hit
        return hit

    def _static_mask(self, prep: _Prepared, snap: CatalogSnapshot, request: AdRequest) -> np.ndarray:
        key = (request.channel, self.policy.is_kids(request.rating))
        hit = prep.static.get(key)
        if hit is None:
            hit = None
            for st in self._c_stages(snap, request):
                hit = st[2] if hit is None else hit & st[2]
            if len(prep.static) > 256:
                prep.static.clear()
            prep.static[key] = hit
        return hit

    def _trace_break_filters(self, tr: Trace, snap: CatalogSnapshot, request: AdRequest, now: float,
                             position: str) -> None:
        self._trace_stages(tr, snap, self._li_stages(snap, request, now, position), self._c_stages(snap, request))

    async def _score(self, request: AdRequest, cands: list[Candidate], cidx: np.ndarray, arr) -> ScoreBatch:
        if not cands:
            return ScoreBatch((), (), getattr(self.scorer, "tier", "T3"))
        if type(self.scorer) is PriorScorer:  # the priors need no candidate objects
            return self.scorer.score_arrays(request, arr.c_prior_completion[cidx], arr.c_prior_ctr[cidx],
                                            arr.c_duration[cidx])
        deadline = time.monotonic() + self.config.score_timeout_s
        try:
            batch = await self.scorer.score(request, cands, deadline=deadline)
            if len(batch.p_complete) != len(cands):
                raise ValueError("scorer returned a misaligned batch")
            return batch
        except (asyncio.CancelledError, KeyboardInterrupt):
            raise
        except Exception:  # noqa: BLE001 - a failing model must not fail the ad request
            return self.priors.score_sync(request, cands)

    async def _pod(self, snap: CatalogSnapshot, request: AdRequest, spec: BreakSpec, cands: list[Candidate],
                   cidx: np.ndarray, ecpm: np.ndarray, floor: np.ndarray, value: np.ndarray, above: np.ndarray,
                   c_pos: np.ndarray, counts: dict[str, int], stream: SessionCounts, separation: _Separation,
                   now: float, batch: ScoreBatch, tr: Trace | None, *, recheck: bool, device: str,
                   buckets: dict[str, int]) -> Pod:
        cfg = self.config
        arr = snap.arrays
        max_ad = spec.duration_s if cfg.max_ad_duration_s is None else min(spec.duration_s, cfg.max_ad_duration_s)
        max_ads = min(x for x in (cfg.max_ads, spec.max_ads, request.max_ads) if x is not None)
        ok = above & c_pos[cidx] if len(cidx) else np.zeros(0, dtype=bool)
        too_long = arr.c_duration[cidx] > max_ad + 1e-6
        if tr is not None:
            for j in np.flatnonzero(ok & too_long):
                tr.drop("compatibility", "duration_exceeds_break", cands[j].line_item.id, cands[j].creative.id,
                        f"{cands[j].creative.duration_s:g}s > {max_ad:g}s")
        ok &= ~too_long
        order_ = np.flatnonzero(ok)
        order_ = order_[np.argsort(-value[order_], kind="stable")]
        bids: list[Bid] = []
        for j in order_.tolist():
            c = cands[j]
            why = separation.conflict(c) if cfg.stream_separation and recheck else None
            if why is not None:
                if tr is not None:
                    tr.drop("separation", "stream_separation", c.line_item.id, c.creative.id, why)
                continue
            if c.cap_specs and recheck:
                why = cap_violation(c, device, buckets, counts, stream)
                if why is not None:
                    if tr is not None:
                        tr.drop("caps", "frequency_cap", c.line_item.id, c.creative.id, why)
                    continue
            if len(bids) >= cfg.max_bids:
                if tr is None:
                    break
                tr.drop("auction", "rank_cutoff", c.line_item.id, c.creative.id, None)
                continue
            bids.append(Bid(j, TIER_NAMES[TIER_RANK[c.line_item.tier]], float(ecpm[j]), float(floor[j]),
                            float(value[j]), c.line_item.id))
        if tr is not None:
            tr.count("ranked", len(bids))

        placed: list[PodItem] = []
        used: set = set()
        left = spec.duration_s
        solver = ""
        excluded: set[str] = set()
        imp_ids: dict[int, str] = {}
        for _ in range(max(1, cfg.reserve_rounds)):
            items = []
            for b in bids:
                c = cands[b.index]
                if c.line_item.id in excluded:
                    continue
                item = PodItem(b, c.creative.duration_s, b.value, self._conflicts(c), c.line_item.position)
                if used.isdisjoint(item.conflicts):
                    items.append(item)
            sol = solve(items, PodConstraints(left, max_ads - len(placed), max_ad), time_box_s=cfg.podding_time_box_s)
            solver = "greedy" if "greedy" in (solver, sol.solver) else sol.solver
            if not sol.items:
                break
            pairs = [(cands[i.ref.index], self._hex()) for i in sol.items]
            if cfg.reserve_caps:
                held = await reserve(self.store, snap, device, pairs, now, counts)
            else:
                held = [True] * len(sol.items)
            for item, (_, imp_id), fine in zip(sol.items, pairs, held, strict=True):
                if fine:
                    placed.append(item)
                    imp_ids[item.ref.index] = imp_id
                    used |= item.conflicts
                    left -= item.duration_s
                else:
                    excluded.add(item.ref.line_item_id)
                    if tr is not None:
                        c = cands[item.ref.index]
                        tr.drop("podding", "cap_reserve_failed", c.line_item.id, c.creative.id, None)
            if all(held):
                break

        ordered = pod_order(placed)
        winners = {i.ref.line_item_id for i in ordered}
        complete_model, click_model = served_by(batch)
        ads = []
        offset = 0.0
        for seq, item in enumerate(ordered, start=1):
            b: Bid = item.ref
            c = cands[b.index]
            price = clearing_price(b, bids, winners, cfg.auction)
            ads.append(PlacedAd(
                imp_id=imp_ids[b.index], sequence=seq, line_item_id=c.line_item.id, campaign_id=c.line_item.campaign_id,
                advertiser_id=c.line_item.advertiser_id, creative=c.creative, price_micros=price, tier=b.tier,
                offset_s=offset, advertiser_name=c.advertiser.name, exclusion_labels=c.line_item.exclusion_labels,
                p_complete=float(batch.p_complete[b.index]), p_click=float(batch.p_click[b.index]),
                complete_model=complete_model, click_model=click_model,
            ))
            offset += c.creative.duration_s
            stream.add(c)
            separation.add(c)
        if tr is not None:
            tr.solver = solver
            for b in bids:
                c = cands[b.index]
                if b.line_item_id not in winners and c.line_item.id not in excluded:
                    tr.drop("podding", "not_selected", c.line_item.id, c.creative.id, None)
            tr.selected = [{"line_item": a.line_item_id, "creative": a.creative.id, "tier": a.tier,
                            "ecpm_micros": int(round(next(b.ecpm_micros for b in bids if b.line_item_id == a.line_item_id))),
                            "price_micros": a.price_micros} for a in ads]
        return Pod(pod_id=self._hex(), break_spec=spec, ads=tuple(ads), trace=tr.to_dict() if tr else None,
                   fallback_tier=batch.tier, solver=solver or "dp")

    def _conflicts(self, c: Candidate) -> frozenset:
        hit = self._conflict_cache.get(c)
        if hit is not None:
            return hit
        if len(self._conflict_cache) > 200_000:
            self._conflict_cache.clear()
        cfg = self.config
        # a creative belongs to one advertiser: advertiser separation already keeps it unique
        keys: list[tuple[str, ...]] = [("a", c.line_item.advertiser_id) if cfg.separate_advertisers
                                       else ("c", c.creative.id)]
        if cfg.separate_categories:
            keys.append(("k", c.creative.iab_category))
        if cfg.separate_labels:
            keys += [("l", x) for x in c.line_item.exclusion_labels]
        for cap in c.line_item.caps:
            if cap.window == "pod":
                keys.append(("p", cap.scope, cap_entity(c, cap.scope)))
        out = self._conflict_cache[c] = frozenset(keys)
        return out


__all__ = ["Engine", "EngineConfig", "TIERS", "build_context"]
