"""Budget pacing: a participation rate per line item, recomputed from shared counters.

Every gateway instance runs one `PacingController` (it implements `PacingGate`). The
engine drops a candidate line item with probability `1 - participation(line_item, now)`.
`refresh(now)` — called every few seconds by the gateway, or by the simulator on its
virtual clock — reads the shared counters and recomputes every rate.

Each line item paces a goal for today, fixed at the day's first refresh: its daily
budget or, when smaller, its lifetime budget's share of the day (what is left x today's
expected traffic / the traffic expected until the flight ends). The plan spreads that
goal over the day's requests (observed for past hours and so far in this one, the
forecast for the rest, scheduled events included: `set_events`, or the catalog's
`traffic_events`) inside the line item's dayparts, times a ramp from 1 + f to 1 - f for
`frontloaded`. The rate is a PI controller on that plan:

    p = (planned units per second now + gap to the plan / catch-up time)
        / (value per eligible request x eligible share x requests per second)

The catch-up time is `catch_up_share` (0.04) of the time the day's plan has run, at most
`catch_up_s` (30 min): early in the day a few impressions are a large share of the plan,
so a gap is closed within minutes; later it is smoothed over half an hour. A line item
expecting fewer than `granular_imps` (4) impressions per catch-up time is tracked
impression by impression: the next one is due once the plan is `granular_lag` (0.3) of
an impression past the delivery, and is bid for within `granular_s` (60 s), so a small
line item's integer count stays within about an impression of its plan.

`value per eligible request` (goal units delivered per eligible request offered, i.e.
at participation 1) and `eligible share` (how many requests the engine asked about this
line item, i.e. passed its targeting, flight and policy) are learned from shared
counters, smoothed over `smoothing_s`; the value starts from the line item's price x
the win rate pooled over all line items; the request rate, until a second refresh can
measure it, from the forecast (a fresh instance starts on plan, not at full rate).
Because the plan moves with the traffic seen, an unannounced spike is spent with (the
rate holds) and absorbed by the rest of the day; a scheduled one was planned for; because
the gap is integrated, a line item that fell behind (outranked for a while) catches up
at most `max_catch_up` x its planned rate. `asap` bids on everything (p = 1) until
today's goal is met; ranking among bidders is the auction's job. A rate may drop at once
but at most doubles per refresh.

No instance may overspend by acting alone: the rate is capped so that the spend
expected before the next refresh, across all instances at the current global request
rate, is at most `1/safety` of what remains (the per-refresh allowance), and a goal that
is met drops the rate to 0 at the next refresh. Instances that report their own
decisions (`note_served`) also stop locally once they used their share of the allowance.
If the store cannot be read, the last rates hold for `max_stale_s`, then go to 0.

The learned estimates (smoothed delivery, offers, eligible and all requests per line
item) are saved every `persist_every_s` under `pace:learned` (JSON, TTL a day); an
instance's first refresh resumes them, decayed for the time since they were saved, so a
restart does not fall back on the pooled prior.

Counter keys (integers in the store; days in the catalog's time zone):

    pace:spend:<line_item>:<yyyymmdd>   spend in currency micros that day (TTL 3 days)
    pace:spend:<line_item>:total        spend in micros over the line item's life
    pace:imps:<line_item>:<yyyymmdd>    impressions that day
    pace:imps:<line_item>:total         impressions over the line item's life
    pace:req:total                      ad requests seen by all instances
    pace:req:h:<yyyymmddhh>             ad requests in that hour (forecast history, 9 days)
    pace:elig:<line_item>:total         requests the line item was eligible for (the engine
                                        asked its participation)
    pace:offer:<line_item>:total        those requests x participation, in thousandths
    pace:learned                        the learned estimates (JSON, TTL a day)

`record_delivery` writes the delivery counters (the beacon consumer calls it, with
`spend_for_event` for the amount); `delivery_ops` gives the same increments for callers
that batch (the simulator flushes what it delivered before each refresh).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from prometheus_client import Counter, Gauge

from decision.forecast import (
    HOUR,
    ForecastHorizon,
    ScheduledEvent,
    TrafficForecast,
    hour_index,
    prior_weight,
)

__all__ = [
    "MODES", "PacingSpec", "PacingController", "record_delivery", "delivery_keys",
    "day_label", "hour_label", "spend_for_event", "REQ_TOTAL_KEY", "delivery_ops",
]

log = logging.getLogger(__name__)

MODES = ("even", "frontloaded", "asap")
UNITS = ("spend", "impressions")
DAY = 86400.0
DAY_KEY_TTL = 3 * DAY
HOUR_KEY_TTL = 9 * DAY
REQ_TOTAL_KEY = "pace:req:total"
LEARNED_KEY = "pace:learned"  # the learned estimates, so a restarted instance resumes them

PARTICIPATION = Gauge("adgw_pacing_participation", "Pacing participation rate (0..1)", ["line_item"])
DELIVERED = Gauge("adgw_pacing_delivered", "Goal units delivered (micros or impressions)", ["line_item", "period"])
GOAL = Gauge("adgw_pacing_goal", "Goal units for the period (micros or impressions)", ["line_item", "period"])
FORECAST = Gauge("adgw_pacing_forecast_remaining_requests", "Expected requests until the period ends", ["line_item"])
LAST_REFRESH = Gauge("adgw_pacing_last_refresh_timestamp_seconds", "Clock time of the last successful refresh")
REFRESH_ERRORS = Counter("adgw_pacing_refresh_errors", "Pacing refreshes that failed to read the store")


def day_label(now: float, tz_offset_s: float = 0.0) -> str:
    return datetime.fromtimestamp(now + tz_offset_s, UTC).strftime("%Y%m%d")


def hour_label(hour: int) -> str:
    return datetime.fromtimestamp(hour * HOUR, UTC).strftime("%Y%m%d%H")


def delivery_keys(line_item_id: str, now: float, tz_offset_s: float = 0.0) -> tuple[str, str, str, str]:
    """(spend day, spend total, impressions day, impressions total) keys."""
    day = day_label(now, tz_offset_s)
    return (f"pace:spend:{line_item_id}:{day}", f"pace:spend:{line_item_id}:total",
            f"pace:imps:{line_item_id}:{day}", f"pace:imps:{line_item_id}:total")


def delivery_ops(line_item_id: str, day: str, spend_micros: int = 0,
                 impressions: int = 0) -> list[tuple[str, int, float | None]]:
    """The counter increments for delivery on local day `day` (yyyymmdd), for callers
    that batch many deliveries into one `incr_many`."""
    ops: list[tuple[str, int, float | None]] = []
    if spend_micros:
        ops += [(f"pace:spend:{line_item_id}:{day}", int(spend_micros), DAY_KEY_TTL),
                (f"pace:spend:{line_item_id}:total", int(spend_micros), None)]
    if impressions:
        ops += [(f"pace:imps:{line_item_id}:{day}", int(impressions), DAY_KEY_TTL),
                (f"pace:imps:{line_item_id}:total", int(impressions), None)]
    return ops


async def record_delivery(store: Any, line_item_id: str, now: float, *, spend_micros: int = 0,
                          impressions: int = 0, tz_offset_s: float = 0.0) -> None:
    """Add delivered spend and impressions to the pacing counters (one round trip)."""
    ops = delivery_ops(line_item_id, day_label(now, tz_offset_s), spend_micros, impressions)
    if ops:
        await store.incr_many(ops)


def spend_for_event(goal_type: str, event: str, price_micros: int, rate_micros: int | None = None) -> int:
    """Micros of spend an accepted event charges. CPM line items pay the clearing price
    (`price_micros`, CPM micros) / 1000 on the impression. CPCV line items pay their rate
    per completed view on `complete`: pass the line item's `rate_micros` (an ad's
    `price_micros` is its eCPM, rate x p(complete) x 1000, not the per-view price).
    Everything else charges nothing."""
    if goal_type.upper() == "CPCV":
        if event != "complete":
            return 0
        return int(rate_micros if rate_micros is not None else price_micros)
    return round(price_micros / 1000) if event == "impression" else 0


@dataclass(frozen=True, slots=True)
class PacingSpec:
    """What the controller needs to know about one line item.

    `unit` is `spend` (goals in currency micros) or `impressions` (guaranteed line items
    with an impression goal). `start`/`end` bound the flight (epoch seconds, None = open).
    `max_unit_per_request` bounds the goal units one request can deliver (e.g. CPM/1000
    times the pod size); it caps the first refreshes before any delivery is observed."""

    line_item_id: str
    mode: str = "even"
    unit: str = "spend"
    daily_goal: int | None = None
    lifetime_goal: int | None = None
    start: float | None = None
    end: float | None = None
    max_unit_per_request: float | None = None
    dayparts: tuple[tuple[tuple[int, ...], int, int], ...] = ()  # (days 0=Mon, start_hour, end_hour)
    # hours of the week the targeting allows (`daypart` / `dow` in its top-level conjunction)
    hours: tuple[bool, ...] | None = None
    # hour-of-week activity (168 booleans, Monday 00:00 first); None without dayparts
    mask: tuple[bool, ...] | None = field(default=None, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"pacing mode must be one of {MODES}, got {self.mode!r}")
        if self.unit not in UNITS:
            raise ValueError(f"pacing unit must be one of {UNITS}, got {self.unit!r}")
        if self.dayparts or self.hours is not None:
            object.__setattr__(self, "mask", tuple(
                (not self.dayparts or any(dow in days and start <= hod < end for days, start, end in self.dayparts))
                and (self.hours is None or self.hours[dow * 24 + hod])
                for dow in range(7) for hod in range(24)))

    @property
    def budgeted(self) -> bool:
        return self.daily_goal is not None or self.lifetime_goal is not None

    def active(self, t: float, tz_offset_s: float) -> bool:
        """Whether `t` falls inside one of the dayparts (always, when there are none)."""
        if self.mask is None:
            return True
        hour = math.floor((t + tz_offset_s) / HOUR)
        return self.mask[((hour // 24 + 3) % 7) * 24 + hour % 24]  # epoch day 0 was a Thursday

    @classmethod
    def from_line_item(cls, li: Any) -> PacingSpec:
        """From a `decision.catalog.LineItem`: spend goals in micros; CPCV line items pay
        `rate_micros` per completed view, CPM ones at most `rate_micros`/1000 an impression."""
        goal = str(getattr(li, "goal", "CPM")).upper()
        rate = float(getattr(li, "rate_micros", 0) or 0)
        per_request = rate if goal == "CPCV" else rate / 1000.0
        mode = str(getattr(li, "pacing", "even") or "even").lower()
        daily = getattr(li, "daily_budget_micros", None)
        lifetime = getattr(li, "lifetime_budget_micros", None)
        unit = "spend"
        imp_daily = getattr(li, "daily_impressions", None)
        imp_life = getattr(li, "lifetime_impressions", None)
        if daily is None and lifetime is None and (imp_daily is not None or imp_life is not None):
            unit, daily, lifetime, per_request = "impressions", imp_daily, imp_life, 1.0
        return cls(
            line_item_id=li.id, mode=mode if mode in MODES else "even", unit=unit,
            daily_goal=None if daily is None else int(daily),
            lifetime_goal=None if lifetime is None else int(lifetime),
            start=getattr(li, "start", None), end=getattr(li, "end", None),
            max_unit_per_request=per_request or None,
            dayparts=tuple((tuple(d.days), int(d.start_hour), int(d.end_hour))
                           for d in getattr(li, "dayparts", ()) or ()),
            hours=targeting_hours(getattr(li, "targeting", None)),
        )


def targeting_hours(expr: Any) -> tuple[bool, ...] | None:
    """Hours of the week (Monday 00:00 first) a targeting expression can match, read from
    the `daypart` and `dow` leaves of its top-level conjunction (decision/targeting.py);
    None when it does not restrict time."""
    from decision.targeting import DAYPARTS, DOW

    leaves = expr.get("all", [expr]) if isinstance(expr, dict) else []
    hods: set[int] | None = None
    dows: set[int] | None = None
    for leaf in leaves:
        if not isinstance(leaf, dict) or len(leaf) != 1:
            continue
        (op, arg), = leaf.items()
        if op not in ("in", "eq") or not isinstance(arg, list) or len(arg) != 2:
            continue
        attr, values = arg
        values = {str(v).lower() for v in (values if op == "in" else [values])}
        if attr == "daypart":
            allowed = {h for name, lo, hi in DAYPARTS if name in values for h in range(lo, hi)}
            hods = allowed if hods is None else hods & allowed
        elif attr == "dow":
            allowed = {i for i, name in enumerate(DOW) if name in values}
            dows = allowed if dows is None else dows & allowed
    if hods is None and dows is None:
        return None
    return tuple((hods is None or h in hods) and (dows is None or d in dows) for d in range(7) for h in range(24))


@dataclass(slots=True)
class _Period:
    name: str  # day | lifetime
    goal: int
    delivered: int = 0
    start: float | None = None
    end: float | None = None
    forecast: float | None = None  # weighted expected requests until `end`
    rate: float = 1.0
    reason: str = ""


@dataclass(slots=True)
class _State:
    spec: PacingSpec
    rate: float = 1.0
    reason: str = "warmup"
    total_seen: int | None = None  # last read of the lifetime counter (for deltas)
    offer_seen: int | None = None  # last read of the shared offer counter
    elig_seen: int | None = None  # last read of the shared eligible-request counter
    acc_units: float = 0.0  # smoothed units delivered
    acc_exposure: float = 0.0  # smoothed eligible requests x participation
    acc_elig: float = 0.0  # smoothed eligible requests (the engine asked for a rate)
    acc_req: float = 0.0  # smoothed requests of all kinds while the line item was active
    slot: int = 0  # position in the controller's rate and local-count arrays
    allowance: float = math.inf  # local units this instance may still serve before refresh
    local_served: float = 0.0
    periods: list[_Period] = field(default_factory=list)
    day: int | None = None  # local day index `day_goal` was fixed for
    day_goal: float = math.inf  # goal units for today (the binding budget's share of the day)
    basis: str = ""  # daily | lifetime_share | lifetime | open
    target: float | None = None  # ideal cumulative delivery today at the last refresh
    plan: tuple | None = None  # (day profile, its plan weights for this line item)
    step_cap: float = math.inf  # units one instance may serve per refresh (impression-by-impression)


class _DayProfile:
    """The plan's shape over one local day: expected requests per hour (the observed count
    for completed hours, the forecast for the rest) and, per activity pattern and mode,
    the cumulative plan weights (traffic x dayparts x the frontloaded ramp)."""

    def __init__(self, forecast: TrafficForecast, day: int, current_hour: int, frontload: float) -> None:
        h0 = day * 24
        lam = []
        for h in range(h0, h0 + 24):
            seen = forecast.observed(h) if h < current_hour else None
            lam.append(seen if seen is not None else forecast.expected(h))
        self.known = sum(lam) > 0
        if not self.known:  # cold start: the prior's shape; the level comes from the live rate
            lam = [prior_weight(h) for h in range(h0, h0 + 24)]
        self.h0 = h0
        self.lam = np.asarray(lam, dtype=np.float64)
        self.how = np.array([((h // 24 + 3) % 7) * 24 + h % 24 for h in range(h0, h0 + 24)])
        self.ramp = 1.0 + frontload * (1.0 - 2.0 * (np.arange(24) + 0.5) / 24.0)
        self._weights: dict[tuple, tuple[list[float], list[float], list[float]]] = {}

    def weights(self, spec: PacingSpec, start: float | None, end: float | None,
                tz_offset_s: float) -> tuple[list[float], list[float], list[float]]:
        """(per-hour plan factors (dayparts x ramp), weights (expected requests x factor),
        prefix sums of the weights) of the line item's plan for the day."""
        lo = 0 if start is None else max(0, min(24, math.ceil((start + tz_offset_s) / HOUR - self.h0)))
        hi = 24 if end is None else max(0, min(24, math.ceil((end + tz_offset_s) / HOUR - self.h0)))
        key = (spec.mask, spec.mode == "frontloaded", lo, hi)
        hit = self._weights.get(key)
        if hit is None:
            f = np.ones(24)
            if spec.mask is not None:
                f *= np.asarray(spec.mask, dtype=np.float64)[self.how]
            if spec.mode == "frontloaded":
                f *= self.ramp
            f[:lo] = 0.0
            f[hi:] = 0.0
            w = self.lam * f
            hit = self._weights[key] = (f.tolist(), w.tolist(), np.concatenate(([0.0], np.cumsum(w))).tolist())
        return hit


class PacingController:
    """A `PacingGate` fed by shared counters; see the module docstring.

    `clock` returns epoch seconds (a virtual clock in the simulator). `tz_offset_s`
    places the day boundary of daily budgets. `refresh_interval_s` is how often the
    caller promises to call `refresh` (it sizes the per-refresh allowance)."""

    def __init__(self, store: Any, *, clock: Callable[[], float] = time.time,
                 specs: Iterable[PacingSpec] = (), refresh_interval_s: float = 5.0,
                 tz_offset_s: float = 0.0, forecast: TrafficForecast | None = None,
                 smoothing_s: float = 900.0, frontload: float = 0.5, safety: float = 2.0,
                 prior_exposure: float = 2.0, prior_win_rate: float = 0.5, max_step_up: float = 2.0,
                 min_memory: float = 30.0, max_stale_s: float = 60.0, catch_up_s: float = 1800.0,
                 max_catch_up: float = 2.0, catch_up_share: float = 0.04, granular_imps: float = 4.0,
                 granular_s: float = 60.0, granular_lag: float = 0.3, persist_every_s: float = 60.0,
                 metrics: bool = True) -> None:
        self._store = store
        self._clock = clock
        self.refresh_interval_s = refresh_interval_s
        self.tz_offset_s = tz_offset_s
        self.forecast = forecast or TrafficForecast()
        self.smoothing_s = smoothing_s
        self.frontload = frontload
        self.safety = safety
        self.prior_exposure = prior_exposure
        self.prior_win_rate = prior_win_rate
        self.max_step_up = max_step_up
        self.min_memory = min_memory
        self.max_stale_s = max_stale_s
        self.catch_up_s = catch_up_s
        self.max_catch_up = max_catch_up
        self.catch_up_share = catch_up_share
        self.granular_imps = granular_imps
        self.granular_s = granular_s
        self.granular_lag = granular_lag
        self.persist_every_s = persist_every_s
        self._learned: dict[str, list[float]] = {}  # estimates saved by an earlier instance, decayed
        self._last_persist: float | None = None
        self._metrics = metrics
        # exported gauge children and the value each last got: the refresh sets only what
        # changed, without `labels()` (label tuple, lock, lookup) every time; for 240 line
        # items that export was a ~12 ms pause of the event loop (beacon p99) every refresh
        self._exported: dict[tuple[Any, tuple[str, ...]], list[Any]] = {}
        self._states: dict[str, _State] = {}
        # per paced line item (by `_State.slot`): the current rate, and the eligible requests
        # and participation summed on this instance since the last refresh; arrays so the
        # engine can ask for all of a request's line items at once (`participation_many`)
        self._rate_a = np.ones(0)
        self._calls_a = np.zeros(0, dtype=np.int64)
        self._offered_a = np.zeros(0)
        self._snap_slots: tuple[Any, np.ndarray] | None = None  # (snapshot, slot per line item or -1)
        self._keys: tuple[str, list[str], list[str], list[str]] | None = None  # counter keys for a day
        self._pending_requests = 0
        self._req_total: int | None = None
        self._last_refresh: float | None = None
        self._last_ok: float | None = None
        self._req_rate = 0.0  # global requests per second, smoothed
        self._last_hour: int | None = None
        self._local_share = 1.0
        self._horizon_cache: tuple[tuple[int, int], ForecastHorizon] | None = None
        self._profile_cache: tuple[tuple[int, int, int], _DayProfile] | None = None
        self._prior_win = prior_win_rate
        self._hour_requests = 0
        self.set_specs(specs)

    # configuration -----------------------------------------------------------
    def set_specs(self, specs: Iterable[PacingSpec]) -> None:
        """Replace the paced line items (on catalog swap); learned state is kept by id."""
        states: dict[str, _State] = {}
        for spec in specs:
            if not spec.budgeted:
                continue
            old = self._states.get(spec.line_item_id)
            if old is not None:
                if old.spec != spec:
                    old.day = None  # today's goal is fixed again from the new budgets
                old.spec, old.plan = spec, None
                states[spec.line_item_id] = old
            else:
                states[spec.line_item_id] = _State(spec=spec)
        n = len(states)
        rate_a, calls_a, offered_a = np.ones(n), np.zeros(n, dtype=np.int64), np.zeros(n)
        for i, st in enumerate(states.values()):
            if st.slot < len(self._rate_a) and self._states.get(st.spec.line_item_id) is st:
                calls_a[i], offered_a[i] = self._calls_a[st.slot], self._offered_a[st.slot]
            st.slot = i
            rate_a[i] = st.rate
        self._states = states
        self._rate_a, self._calls_a, self._offered_a = rate_a, calls_a, offered_a
        self._snap_slots = None
        self._keys = None

    def set_line_items(self, line_items: Iterable[Any]) -> None:
        self.set_specs(PacingSpec.from_line_item(li) for li in line_items)

    def set_catalog(self, snapshot: Any) -> None:
        """Pace the line items of a `CatalogSnapshot`; days follow its time zone, and its
        `traffic_events` are the forecast's calendar of scheduled events."""
        self.tz_offset_s = float(getattr(snapshot, "tz_offset_s", 0.0) or 0.0)
        self.set_line_items(snapshot.line_items)
        self.set_events(getattr(snapshot, "traffic_events", ()) or ())

    def set_events(self, events: Iterable[ScheduledEvent]) -> None:
        """Tell the forecast which events are scheduled (a live game at 20:00 that will
        draw 2.5x the usual traffic): plans spread budgets over the traffic they bring."""
        self.forecast.set_events(events, self.tz_offset_s)

    # hot path -------------------------------------------------------------------
    def participation(self, line_item_id: str, now: float) -> float:
        """The engine asks once per request for each line item that passed targeting,
        flight and policy: the calls count the line item's eligible traffic."""
        st = self._states.get(line_item_id)
        if st is None:
            return 1.0
        i = st.slot
        rate = float(self._rate_a[i])
        self._calls_a[i] += 1
        self._offered_a[i] += rate
        return rate

    def participation_many(self, snapshot: Any, line_items: np.ndarray, now: float) -> np.ndarray:
        """`participation` for several distinct line items of `snapshot` at once, given by
        their index in `snapshot.line_items` (the engine's per-request batch)."""
        cached = self._snap_slots
        if cached is None or cached[0] is not snapshot:
            slots = np.array([st.slot if (st := self._states.get(li.id)) is not None else -1
                              for li in snapshot.line_items], dtype=np.int64)
            cached = self._snap_slots = (snapshot, slots)
        slots = cached[1][line_items]
        paced = slots >= 0
        if paced.all():
            rates = self._rate_a[slots]
            self._calls_a[slots] += 1
            self._offered_a[slots] += rates
            return rates
        slots = slots[paced]
        own = self._rate_a[slots]
        self._calls_a[slots] += 1
        self._offered_a[slots] += own
        rates = np.ones(len(line_items))
        rates[paced] = own
        return rates

    def note_offers(self, line_item_id: str, n: int) -> float:
        """`n` eligible requests at once (callers that decide in batches); returns the rate."""
        st = self._states.get(line_item_id)
        if st is None:
            return 1.0
        i = st.slot
        rate = float(self._rate_a[i])
        self._calls_a[i] += n
        self._offered_a[i] += rate * n
        return rate

    def note_request(self, n: int = 1) -> None:
        """Count ad requests served by this instance (flushed to the store on refresh)."""
        self._pending_requests += n

    def note_served(self, line_item_id: str, spend_micros: float, impressions: int = 1) -> None:
        """This instance just served an ad of the line item (its spend in micros); past
        its share of the per-refresh allowance it stops until the next refresh."""
        st = self._states.get(line_item_id)
        if st is None:
            return
        st.local_served += spend_micros if st.spec.unit == "spend" else impressions
        if st.local_served >= st.allowance:
            self._rate_a[st.slot] = 0.0

    # refresh ----------------------------------------------------------------------
    async def refresh(self, now: float | None = None) -> None:
        """Flush this instance's request and offer counts, read the shared counters,
        recompute every rate. Two round trips (three when an hour just completed)."""
        now = self._clock() if now is None else now
        pending, self._pending_requests = self._pending_requests, 0
        hour = hour_index(now, self.tz_offset_s)
        # what this instance offered each line item since the last refresh, in
        # milli-requests: participation x requests, inside the line item's dayparts
        ops: list[tuple[str, int, float | None]] = [
            (REQ_TOTAL_KEY, pending, None), (f"pace:req:h:{hour_label(hour)}", pending, HOUR_KEY_TTL)]
        day = day_label(now, self.tz_offset_s)
        cached = self._keys
        if cached is None or cached[0] != day:
            cached = self._keys = (day, *self._counter_keys(day))
        _, offer_keys, elig_keys, keys = cached
        flushed = (self._calls_a.copy(), self._offered_a.copy())
        self._calls_a[:] = 0
        self._offered_a[:] = 0.0
        for offer_key, elig_key, calls, offered in zip(offer_keys, elig_keys, flushed[0].tolist(),
                                                       flushed[1].tolist(), strict=True):
            ops.append((offer_key, round(offered * 1000), None))
            ops.append((elig_key, calls, None))
        try:
            totals = await self._store.incr_many(ops)
            values = await self._store.get_ints(keys) if keys else []
            if self._last_hour != hour:
                await self._learn_hours(hour)
            if self._last_refresh is None and self.persist_every_s > 0:
                self._learned = await self._load_learned(now)
        except Exception as exc:  # store errors: hold the last rates, then fail closed
            self._pending_requests += pending
            self._calls_a += flushed[0]
            self._offered_a += flushed[1]
            if self._metrics:
                REFRESH_ERRORS.inc()
            log.warning("pacing refresh failed: %s", exc)
            if self._last_ok is not None and now - self._last_ok > self.max_stale_s:
                for st in self._states.values():
                    st.rate, st.reason = 0.0, "stale"
                self._rate_a[:] = 0.0
            return
        req_total = totals[0]
        self._hour_requests = totals[1]  # requests so far in the current hour, all instances
        dt = 0.0 if self._last_refresh is None else max(0.0, now - self._last_refresh)
        new_requests = 0 if self._req_total is None else max(0, req_total - self._req_total)
        self._req_total = req_total
        if dt > 0:
            inst = new_requests / dt
            w = 1.0 - math.exp(-dt / 60.0)
            self._req_rate = inst if self._req_rate == 0.0 else self._req_rate + w * (inst - self._req_rate)
        if self._req_rate == 0.0 and self.forecast.observed_hours:
            # the first refresh has no live rate yet: start from the forecast's (a fresh
            # instance would otherwise bid at full rate until its second refresh)
            self._req_rate = self.forecast.expected(hour) / HOUR
        self._local_share = (pending / new_requests) if new_requests >= pending > 0 else 1.0
        if self.forecast.observed_hours == 0 and self._req_rate > 0:
            self.forecast.hint_rate(hour, self._req_rate * HOUR)
        decay = math.exp(-dt / self.smoothing_s) if dt > 0 else 1.0
        self._prior_win = self._pooled_win_rate()
        for i, st in enumerate(self._states.values()):
            self._update(st, now, values[2 * i], values[2 * i + 1], totals[2 + 2 * i], totals[3 + 2 * i],
                         new_requests, decay)
            self._rate_a[i] = st.rate
        self._last_refresh = now
        self._last_ok = now
        self._learned = {}
        if self.persist_every_s > 0 and (self._last_persist is None
                                         or now - self._last_persist >= self.persist_every_s):
            await self._save_learned(now)
        if self._metrics:
            self._export(now)

    async def _save_learned(self, now: float) -> None:
        """Write the learned estimates (smoothed delivery, offers, eligible and all
        requests per line item) for an instance that starts later; best effort."""
        doc = {"at": now, "items": {li: [st.acc_units, st.acc_exposure, st.acc_elig, st.acc_req]
                                    for li, st in self._states.items()}}
        try:
            await self._store.set_json(LEARNED_KEY, doc, ttl=DAY)
            self._last_persist = now
        except Exception as exc:  # the rates do not depend on it: keep pacing
            log.warning("pacing estimates not saved: %s", exc)

    async def _load_learned(self, now: float) -> dict[str, list[float]]:
        """The estimates an earlier instance saved, decayed for the time since as the
        refresh would have decayed them; empty when none, unreadable or a day old."""
        doc = await self._store.get_json(LEARNED_KEY)
        if not isinstance(doc, dict) or not isinstance(doc.get("items"), dict):
            return {}
        at = doc.get("at")
        if not isinstance(at, int | float) or not 0 <= now - at < DAY:
            return {}
        decay = math.exp(-(now - at) / self.smoothing_s)
        out = {}
        for li, values in doc["items"].items():
            if li in self._states and isinstance(values, list) and len(values) == 4 \
                    and all(isinstance(v, int | float) and math.isfinite(v) and v >= 0 for v in values):
                units, exposure, elig, req = (float(v) for v in values)
                keep = decay if exposure * decay >= self.min_memory else 1.0
                out[li] = [units * keep, exposure * keep, elig * decay, req * decay]
        return out

    def _counter_keys(self, day: str) -> tuple[list[str], list[str], list[str]]:
        """(offer keys, eligible keys, delivery keys to read: today's and the total, in
        pairs) of every paced line item, in state order."""
        reads = []
        for li, st in self._states.items():
            kind = "spend" if st.spec.unit == "spend" else "imps"
            reads += [f"pace:{kind}:{li}:{day}", f"pace:{kind}:{li}:total"]
        return ([f"pace:offer:{li}:total" for li in self._states], [f"pace:elig:{li}:total" for li in self._states],
                reads)

    async def _learn_hours(self, hour: int) -> None:
        """Feed completed hours to the forecast: the last 8 days on the first refresh,
        then each hour as it completes."""
        if self._last_hour is None:
            hours = list(range(hour - self.forecast_history_hours, hour))
        else:
            hours = list(range(max(self._last_hour, hour - self.forecast_history_hours), hour))
        self._last_hour = hour
        if not hours:
            return
        counts = await self._store.get_ints([f"pace:req:h:{hour_label(h)}" for h in hours])
        self.forecast.observe_many({h: c for h, c in zip(hours, counts, strict=True) if c > 0})

    forecast_history_hours = 24 * 8

    def _pooled_win_rate(self) -> float:
        """Units delivered per unit of upper bound offered, over all line items: the
        prior of a line item that has not been observed yet (at most `prior_win_rate`)."""
        units = bound = 0.0
        for st in self._states.values():
            upper = st.spec.max_unit_per_request
            if upper and st.acc_exposure > 0:
                units += st.acc_units
                bound += st.acc_exposure * upper
        if bound <= 0 or units <= 0:
            return self.prior_win_rate
        return min(self.prior_win_rate, max(0.005, units / bound))

    def _update(self, st: _State, now: float, day_value: int, total_value: int, offer_total: int,
                elig_total: int, new_requests: int, decay: float) -> None:
        spec = st.spec
        first = st.total_seen is None
        delivered = 0 if first else max(0, total_value - st.total_seen)
        offered = 0 if first else max(0, offer_total - st.offer_seen) / 1000.0
        eligible = 0 if first else max(0, elig_total - st.elig_seen)
        st.total_seen, st.offer_seen, st.elig_seen = total_value, offer_total, elig_total
        if first and spec.line_item_id in self._learned:  # resume what an earlier instance learned
            st.acc_units, st.acc_exposure, st.acc_elig, st.acc_req = self._learned[spec.line_item_id]
        # forget old delivery only while enough offers stay in memory: a line item paced
        # to a trickle keeps learning from all it has seen instead of from its prior
        keep = decay if st.acc_exposure * decay >= self.min_memory else 1.0
        st.acc_units = st.acc_units * keep + delivered
        st.acc_exposure = st.acc_exposure * keep + offered
        st.acc_elig = st.acc_elig * decay + eligible
        if spec.active(now, self.tz_offset_s):
            st.acc_req = st.acc_req * decay + new_requests
        # goal units per eligible request offered at full participation; until enough is
        # observed the estimate leans on the line item's upper bound x the win rate pooled
        # over all line items (the catalog's, not a guess)
        value = None
        upper = spec.max_unit_per_request
        e0 = self.prior_exposure
        if upper:
            value = (st.acc_units + upper * self._prior_win * e0) / (st.acc_exposure + e0)
        elif st.acc_exposure >= e0 and st.acc_units > 0:
            value = st.acc_units / st.acc_exposure
        share = (st.acc_elig + e0) / (st.acc_req + e0)  # eligible share of all requests
        st.periods = []
        st.local_served = 0.0
        st.step_cap = math.inf
        st.target = None
        if (spec.start is not None and now < spec.start) or (spec.end is not None and now >= spec.end):
            st.rate, st.reason, st.allowance = 0.0, "out_of_flight", 0.0
            return
        tz = self.tz_offset_s
        day = math.floor((now + tz) / DAY)
        day_start = day * DAY - tz
        p_start = day_start if spec.start is None else max(day_start, spec.start)
        p_end = day_start + DAY if spec.end is None else min(day_start + DAY, spec.end)
        before_today = total_value - day_value  # delivered on earlier days
        remaining_min = math.inf
        if spec.daily_goal is not None:
            st.periods.append(_Period("day", spec.daily_goal, day_value, p_start, p_end))
            remaining_min = spec.daily_goal - day_value
        if spec.lifetime_goal is not None:
            st.periods.append(_Period("lifetime", spec.lifetime_goal, total_value, spec.start, spec.end))
            remaining_min = min(remaining_min, spec.lifetime_goal - total_value)
        if st.day != day:
            self._fix_day_goal(st, now, day, day_value, before_today, p_end)
        goal = st.day_goal
        for period in st.periods:
            period.forecast = goal
        if remaining_min <= 0 or day_value >= goal:
            st.rate, st.reason, st.allowance = 0.0, "goal_met", 0.0
            return
        remaining_min = min(remaining_min, goal - day_value)
        rate, reason = 1.0, spec.mode
        if spec.mode != "asap" and not math.isinf(goal):
            rate, reason = self._plan_rate(st, now, goal, day_value, value, share, p_start, p_end, day)
        elif math.isinf(goal):
            reason = "open_ended"
        # Per-refresh allowance: what all instances may deliver before the next refresh.
        per_request = (value * share) if value is not None else spec.max_unit_per_request
        if per_request:
            expected_full = per_request * self._req_rate * self.refresh_interval_s
            cap = remaining_min / (self.safety * expected_full) if expected_full > 0 else 1.0
            if cap < rate:
                rate, reason = cap, "allowance"
        st.allowance = min(remaining_min / self.safety * self._local_share, st.step_cap)
        # a rate may fall at once but rises at most `max_step_up` times (plus 1%) per
        # refresh: a noisy early estimate cannot open the throttle in one step
        if st.reason not in ("goal_met", "out_of_flight", "stale"):  # a fresh start is not a step
            rate = min(rate, st.rate * self.max_step_up + 0.01)
        st.rate = min(1.0, max(0.0, rate))
        st.reason = reason

    def _fix_day_goal(self, st: _State, now: float, day: int, day_value: int, before_today: int,
                      p_end: float) -> None:
        """Today's goal, fixed at the day's first refresh: the daily budget, or the
        lifetime budget's share of the day (what is left of it x today's expected
        eligible traffic / the traffic expected until the flight ends), whichever is less."""
        spec = st.spec
        goal, basis = math.inf, "open"
        if spec.daily_goal is not None:
            goal, basis = float(spec.daily_goal), "daily"
        if spec.lifetime_goal is not None:
            left = spec.lifetime_goal - before_today
            if spec.end is None:
                share, life_basis = float(left), "lifetime"
            else:
                horizon = self._horizon(now)
                until_flight_end = horizon.remaining(now, spec.end, mask=spec.mask)
                today = horizon.remaining(now, p_end, mask=spec.mask)
                share = day_value + (left - day_value) * today / until_flight_end if until_flight_end > 0 else left
                life_basis = "lifetime_share" if p_end < spec.end else "lifetime"
            if share < goal:
                goal, basis = float(share), life_basis
        st.day, st.day_goal, st.basis = day, goal, basis

    def _plan_rate(self, st: _State, now: float, goal: float, done: float, value: float | None, share: float,
                   p_start: float, p_end: float, day: int) -> tuple[float, str]:
        """even / frontloaded: the plan spreads the day's goal over the day's requests
        (observed for past hours and the current one so far, forecast for the rest) x
        dayparts x the frontloaded ramp. The rate delivers the plan's share of the
        requests coming now plus the gap to the plan spread over `catch_up_s` (a PI
        controller: the plan is the feed-forward, the cumulative gap the integral). The
        plan moves with the traffic actually seen, so a spike is spent with, not fought."""
        spec = st.spec
        profile = self._profile(now, day)
        if not profile.known or self._req_rate <= 0:
            return 1.0, "warmup"
        if st.plan is not None and st.plan[0] is profile:
            f, w, cum, first = st.plan[1]
        else:
            f, w, cum = profile.weights(spec, spec.start, spec.end, self.tz_offset_s)
            first = next((k for k, v in enumerate(f) if v > 0), 24)  # the plan's first hour today
            st.plan = (profile, (f, w, cum, first))
        x = min(24.0, max(0.0, (now + self.tz_offset_s) / HOUR - profile.h0))
        i = min(23, int(x))
        left_in_hour = max(0.0, (1.0 - (x - i)) * HOUR)
        this_hour = self._hour_requests + self._req_rate * left_in_hour
        total = cum[i] + this_hour * f[i] + (cum[24] - cum[i + 1])
        if total <= 0:
            return 1.0, "warmup"
        planned = goal * (cum[i] + self._hour_requests * f[i]) / total
        st.target = planned
        density = goal * self._req_rate * f[i] / total  # planned units per second now
        # the gap closes within `catch_up_share` of the time the plan has run, at most
        # `catch_up_s`: early in the day (or a daypart) a few impressions are a large share of
        # the plan, and the win rates are still being learned. Behind plan, catch up at most
        # `max_catch_up` x the planned rate: a late burst of wins after an early drought must
        # not overshoot the curve the other way
        running = max(0.0, x - first) * HOUR
        catch_up = min(self.catch_up_s, max(self.refresh_interval_s, self.catch_up_share * running))
        gap_units = planned - done
        limit = self.max_catch_up * density
        one = spec.max_unit_per_request  # an impression's worth at most (CPM rate / 1000, CPCV rate, 1)
        granular = bool(one) and density * catch_up < self.granular_imps * one
        if granular:
            # a few impressions per catch-up window: delivery comes in whole impressions, each
            # a large share of the plan (an ideal of 9.1 by 03:00 is met by 9 or 10, not 8).
            # Track the plan impression by impression: the next one is due once the plan is
            # `granular_lag` of an impression past what was delivered, and is bid for within
            # `granular_s` (the capacity is there: such line items bid on a sliver of their
            # eligible requests); ahead of the plan by part of an impression, wait for it.
            # The delivered count then stays within about an impression of the plan instead
            # of drifting one or two behind or ahead for an hour at a time.
            catch_up = min(catch_up, self.granular_s)
            gap_units -= self.granular_lag * one
            limit = max(limit, one / catch_up)
        gap = gap_units / min(catch_up, max(self.refresh_interval_s, p_end - now))
        need = density + min(gap, limit)
        if granular:
            # and one impression per refresh (unless the plan needs more): two wins landing
            # before the counters show the first would put it a whole impression past its plan
            st.step_cap = max(0.5 * one, 3.0 * need * self.refresh_interval_s)
        if need <= 0:
            return 0.0, "ahead"
        if value is None:
            return 1.0, "warmup"
        capacity = value * share * self._req_rate  # units per second at participation 1
        return (need / capacity, "plan") if capacity > 0 else (1.0, "warmup")

    def _profile(self, now: float, day: int) -> _DayProfile:
        hour = hour_index(now, self.tz_offset_s)
        key = (day, hour, self.forecast.version)
        if self._profile_cache is None or self._profile_cache[0] != key:
            self._profile_cache = (key, _DayProfile(self.forecast, day, hour, self.frontload))
        return self._profile_cache[1]

    def _horizon(self, now: float) -> ForecastHorizon:
        hour = hour_index(now, self.tz_offset_s)
        key = (hour, self.forecast.version)
        if self._horizon_cache is None or self._horizon_cache[0] != key:
            self._horizon_cache = (key, ForecastHorizon(self.forecast, hour, tz_offset_s=self.tz_offset_s))
        return self._horizon_cache[1]

    # introspection ------------------------------------------------------------------
    def describe(self, line_item_id: str) -> dict[str, Any]:
        """The pacing state of one line item, for the decision trace."""
        st = self._states.get(line_item_id)
        if st is None:
            return {"line_item_id": line_item_id, "paced": False, "participation": 1.0}
        value = st.acc_units / st.acc_exposure if st.acc_exposure > 0 else None
        return {
            "line_item_id": line_item_id,
            "paced": True,
            "mode": st.spec.mode,
            "unit": st.spec.unit,
            "participation": float(self._rate_a[st.slot]),
            "planned_rate": st.rate,
            "reason": st.reason,
            "units_per_offer": value,
            "eligible_share": st.acc_elig / st.acc_req if st.acc_req > 0 else None,
            "request_rate": self._req_rate,
            "allowance": None if math.isinf(st.allowance) else st.allowance,
            "day_goal": None if math.isinf(st.day_goal) else st.day_goal,
            "budget_basis": st.basis or None,
            "planned_delivery": st.target,
            "local_served": st.local_served,
            "refreshed_at": self._last_refresh,
            "periods": [
                {"period": p.name, "goal": p.goal, "delivered": p.delivered,
                 "remaining": p.goal - p.delivered, "start": p.start, "end": p.end,
                 "forecast_requests": p.forecast, "rate": p.rate, "reason": p.reason}
                for p in st.periods
            ],
        }

    def rates(self) -> dict[str, float]:
        """The current participation of every paced line item."""
        return dict(zip(self._states, self._rate_a.tolist(), strict=True))

    def snapshot(self) -> dict[str, dict[str, Any]]:
        return {li: self.describe(li) for li in self._states}

    def _export(self, now: float) -> None:
        LAST_REFRESH.set(now)
        gauge = self._gauge
        for li, st in self._states.items():
            gauge(PARTICIPATION, (li,), st.rate)
            for p in st.periods:
                gauge(DELIVERED, (li, p.name), p.delivered)
                gauge(GOAL, (li, p.name), p.goal)
                if p.forecast is not None:
                    gauge(FORECAST, (li,), p.forecast)

    def _gauge(self, metric: Any, labels: tuple[str, ...], value: float) -> None:
        slot = self._exported.get((metric, labels))
        if slot is None:
            slot = self._exported[(metric, labels)] = [metric.labels(*labels), None]
        if slot[1] != value:
            slot[1] = value
            slot[0].set(value)
