"""Expected ad-request volume by hour, for pacing.

The pacing controller needs "how many requests are still to come before this budget
period ends". `TrafficForecast` answers from hourly request counts observed in the
shared store (`pace:req:h:<hour>`), seasonal-naive style: the same hour yesterday and a
week ago, rescaled by how the last few completed hours compare with their own
baseline, once that comparison stands out of its normal hour-to-hour noise (measured in
the history; an empirical-Bayes shrinkage toward 1, see `_scale`). With no history it
falls back on a CTV diurnal/weekly prior scaled to the observed level. Hours are
indexed as `floor((epoch + tz_offset_s) / 3600)`.

Scheduled events (a live game, a premiere: broadcasters know when they air) are told to
the forecast as a calendar of `ScheduledEvent`s, each a span and the traffic multiplier
expected while it airs. The forecast multiplies the hours an event covers (in proportion
to the part of the hour it covers) and divides observed hours by the same factor before
learning from them, so an event neither surprises the plan on its day nor inflates the
baseline of the days after it. An event nobody announced stays a surprise: the plan
follows it as it happens, from the observed traffic.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

__all__ = ["CTV_DIURNAL", "WEEKLY", "ScheduledEvent", "TrafficForecast", "event_factors", "hour_index",
           "prior_weight"]

# Relative CTV request volume by local hour of day (mean 1.0): a night trough around
# 4-5 am, a daytime plateau, a prime-time peak 8-10 pm (Nielsen-style viewing curves).
CTV_DIURNAL: tuple[float, ...] = (
    0.55, 0.38, 0.26, 0.19, 0.16, 0.18, 0.30, 0.52, 0.72, 0.82, 0.88, 0.93,
    0.98, 1.00, 1.02, 1.06, 1.14, 1.30, 1.55, 1.85, 2.05, 2.02, 1.65, 1.05,
)
# Day-of-week factors, Monday first: weekends watch more.
WEEKLY: tuple[float, ...] = (0.94, 0.93, 0.94, 0.96, 1.02, 1.12, 1.09)

HOUR = 3600.0


def _normalised(values: tuple[float, ...]) -> tuple[float, ...]:
    mean = sum(values) / len(values)
    return tuple(v / mean for v in values)


_DIURNAL_N = _normalised(CTV_DIURNAL)
_WEEKLY_N = _normalised(WEEKLY)


def hour_index(now: float, tz_offset_s: float = 0.0) -> int:
    return math.floor((now + tz_offset_s) / HOUR)


@dataclass(frozen=True, slots=True)
class ScheduledEvent:
    """A programme known in advance to move request volume: from `start` to `end` (epoch
    seconds) traffic runs at `factor` x an ordinary day's (2.5 for a game that draws
    two and a half times the usual audience)."""

    start: float
    end: float
    factor: float
    name: str = ""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.start) and math.isfinite(self.end) and self.end > self.start):
            raise ValueError("a scheduled event needs finite start < end")
        if not (math.isfinite(self.factor) and self.factor > 0):
            raise ValueError("a scheduled event's factor must be a positive number")


def event_factors(events: Iterable[ScheduledEvent], tz_offset_s: float = 0.0) -> dict[int, float]:
    """Traffic multiplier per hour index for the hours the events touch: an event covering
    a fraction x of an hour multiplies it by 1 + (factor - 1) x; overlapping events
    multiply."""
    out: dict[int, float] = {}
    for ev in events:
        lo, hi = ev.start + tz_offset_s, ev.end + tz_offset_s
        for h in range(math.floor(lo / HOUR), math.ceil(hi / HOUR)):
            covered = (min(hi, (h + 1) * HOUR) - max(lo, h * HOUR)) / HOUR
            if covered > 0:
                out[h] = out.get(h, 1.0) * (1.0 + (ev.factor - 1.0) * covered)
    return out


def prior_weight(hour: int) -> float:
    """Prior relative volume of hour index `hour` (hour of day x day of week)."""
    day = hour // 24
    return _DIURNAL_N[hour % 24] * _WEEKLY_N[(day + 3) % 7]  # epoch day 0 was a Thursday


class TrafficForecast:
    """Hourly request-volume model. `observe(hour, count)` feeds completed hours;
    `expected(hour)` predicts one; `remaining(...)` integrates over a span.

    `prior` maps an hour index to a relative weight (default: `prior_weight`)."""

    def __init__(self, prior: Callable[[int], float] = prior_weight, *, recent_hours: int = 3,
                 history_hours: int = 24 * 8, noise_z: float = 2.0, min_noise_hours: int = 12) -> None:
        self._prior = prior
        self.noise_z = noise_z  # a level moves only once it stands out of z x its normal noise
        self.min_noise_hours = min_noise_hours  # level statistics needed to measure that noise
        self._raw: dict[int, float] = {}  # observed counts
        self._counts: dict[int, float] = {}  # the same, divided by their hour's event factor
        self._events: dict[int, float] = {}  # hour -> traffic multiplier of scheduled events
        self._recent_hours = recent_hours
        self._history_hours = history_hours
        self._level_hint: float | None = None  # requests/hour at prior weight 1, from live rate
        self._scale_cache: tuple[int, float] | None = None
        self._expected_cache: dict[int, float] = {}
        self.version = 0  # bumped on every change (horizons cache on it)

    # learning -------------------------------------------------------------
    def _changed(self) -> None:
        self.version += 1
        self._scale_cache = None
        self._expected_cache.clear()

    def set_events(self, events: Iterable[ScheduledEvent], tz_offset_s: float = 0.0) -> None:
        """Replace the calendar of scheduled events (hours in local time, `tz_offset_s`)."""
        factors = event_factors(events, tz_offset_s)
        if factors == self._events:
            return
        self._events = factors
        self._counts = {h: c / factors.get(h, 1.0) for h, c in self._raw.items()}
        self._changed()

    def event_factor(self, hour: int) -> float:
        """The scheduled events' traffic multiplier for hour index `hour` (1.0: none)."""
        return self._events.get(hour, 1.0)

    def observe(self, hour: int, count: float) -> None:
        """A completed hour's request count (idempotent: the latest value wins)."""
        self._raw[hour] = float(count)
        self._counts[hour] = float(count) / self._events.get(hour, 1.0)
        self._changed()
        if len(self._counts) > self._history_hours + 48:
            newest = max(self._counts)
            for h in [h for h in self._counts if h < newest - self._history_hours]:
                del self._counts[h]
                del self._raw[h]

    def observe_many(self, counts: Mapping[int, float]) -> None:
        for hour in sorted(counts):
            self.observe(hour, counts[hour])

    def hint_rate(self, hour: int, requests_per_hour: float) -> None:
        """The live request rate when no completed hour is known yet (cold start)."""
        weight = self._prior(hour) * self._events.get(hour, 1.0)
        if weight > 0 and requests_per_hour > 0:
            level = requests_per_hour / weight
            if self._level_hint is not None and abs(level / self._level_hint - 1.0) < 0.02:
                return
            self._level_hint = level
            self._changed()

    @property
    def observed_hours(self) -> int:
        return len(self._counts)

    def observed(self, hour: int) -> float | None:
        """The completed hour's observed count, None when it was not observed."""
        return self._raw.get(hour)

    # prediction -------------------------------------------------------------
    def _baseline(self, hour: int) -> float | None:
        """Seasonal-naive estimate from the same hour a day and a week earlier."""
        day = self._counts.get(hour - 24)
        week = self._counts.get(hour - 168)
        if day is not None:
            # yesterday may be a different kind of day (Sunday before Monday): correct
            # with the prior's weekday ratio.
            p_day = self._prior(hour - 24)
            day = day * (self._prior(hour) / p_day) if p_day > 0 else day
        if day is not None and week is not None:
            return 0.5 * day + 0.5 * week
        if day is not None:
            return day
        if week is not None:
            return week
        if self._counts:
            # further ahead than a week: the newest observed same hour of the week (the
            # observed weekly shape, not the prior's, so long flights split budgets right)
            newest = max(self._counts)
            if hour > newest:
                weeks = -(-(hour - newest) // 168)
                for k in (weeks, weeks + 1):
                    seen = self._counts.get(hour - 168 * k)
                    if seen is not None:
                        return seen
        level = self._level()
        return None if level is None else level * self._prior(hour)

    def _level(self) -> float | None:
        """Requests per hour at prior weight 1, from the most recent observed hours."""
        if self._counts:
            newest = max(self._counts)
            ratios = []
            for h in range(newest, newest - 24, -1):
                c = self._counts.get(h)
                w = self._prior(h)
                if c is not None and w > 0:
                    ratios.append(c / w)
                if len(ratios) >= self._recent_hours:
                    break
            if ratios:
                ratios.sort()
                return ratios[len(ratios) // 2]
        return self._level_hint

    def _level_statistic(self, newest: int) -> float | None:
        """log of how the `recent_hours` hours up to `newest` ran against their baseline
        (the median of their log ratios: one odd hour does not move it); None without a
        baseline for them."""
        logs = []
        for h in range(newest, newest - self._recent_hours, -1):
            c = self._counts.get(h)
            if c is None or c <= 0:
                continue
            if self._counts.get(h - 24) is None and self._counts.get(h - 168) is None:
                continue  # cold start: the level already comes from these hours
            base = self._baseline(h)
            if base and base > 0:
                logs.append(math.log(c / base))
        if not logs:
            return None
        logs.sort()
        return logs[len(logs) // 2]

    def _noise(self, newest: int) -> float | None:
        """The spread of the level statistic over the history before the current window:
        how far it wanders hour to hour when nothing changed (robust: 1.4826 x the median
        absolute deviation, so a spike or an earlier shift in the history does not widen
        it); None with fewer than `min_noise_hours` values."""
        stats = [x for h in sorted(self._counts) if h <= newest - self._recent_hours
                 and (x := self._level_statistic(h)) is not None]
        if len(stats) < self.min_noise_hours:
            return None
        stats.sort()
        mid = stats[len(stats) // 2]
        dev = sorted(abs(x - mid) for x in stats)
        return 1.4826 * dev[len(dev) // 2]

    def _scale(self) -> float:
        """How the last completed hours ran against their baseline, shrunk toward 1 by
        the statistic's own noise (positive-part James-Stein, an empirical-Bayes level):
        log scale = L x max(0, 1 - (z sigma / L)^2), with L the level statistic and sigma
        its hour-to-hour spread measured in the history. Inside z sigma (normal noise)
        the seasonal baseline stands: a few busy hours before midnight do not bias the
        whole next day's plan; a lasting shift well past the noise moves the forecast
        almost fully (2x traffic: 1.99x with sigma = 3%); a one-hour spike does not
        (the median). Clipped to 0.5 .. 2."""
        if not self._counts:
            return 1.0
        newest = max(self._counts)
        if self._scale_cache is not None and self._scale_cache[0] == newest:
            return self._scale_cache[1]
        level = self._level_statistic(newest)
        scale = 1.0
        if level is not None and level != 0.0:
            sigma = self._noise(newest)
            if sigma is not None:
                level *= max(0.0, 1.0 - (self.noise_z * sigma / level) ** 2)
            scale = min(2.0, max(0.5, math.exp(level)))
        self._scale_cache = (newest, scale)
        return scale

    def expected(self, hour: int) -> float:
        """Expected requests in hour index `hour` (0.0 when nothing is known yet)."""
        cached = self._expected_cache.get(hour)
        if cached is not None:
            return cached
        base = self._baseline(hour)
        value = 0.0 if base is None else max(0.0, base * self._scale() * self._events.get(hour, 1.0))
        if len(self._expected_cache) > 4096:
            self._expected_cache.clear()
        self._expected_cache[hour] = value
        return value

    def remaining(self, now: float, end: float, *, tz_offset_s: float = 0.0,
                  weight: Callable[[float], float] | None = None,
                  max_hours: int = 24 * 62) -> float:
        """Expected requests in [now, end), optionally weighted by `weight(t)` evaluated
        at each hour's midpoint (frontloaded pacing). Spans past `max_hours` are
        extrapolated from the last day."""
        if end <= now:
            return 0.0
        local_now, local_end = now + tz_offset_s, end + tz_offset_s
        first = math.floor(local_now / HOUR)
        last = math.ceil(local_end / HOUR)
        total = 0.0
        for h in range(first, min(last, first + max_hours)):
            lo = max(local_now, h * HOUR)
            hi = min(local_end, (h + 1) * HOUR)
            if hi <= lo:
                continue
            part = self.expected(h) * (hi - lo) / HOUR
            if weight is not None:
                part *= weight((lo + hi) / 2 - tz_offset_s)
            total += part
        if last > first + max_hours:
            day_total = sum(self.expected(h) for h in range(first + max_hours - 24, first + max_hours))
            total += day_total * (last - first - max_hours) / 24
        return total


class ForecastHorizon:
    """The forecast from hour `h0` on, as prefix sums: `remaining(...)` is O(1) per call,
    so a refresh can plan hundreds of line items with flights months long. Built once
    per hour (the forecast only changes when an hour completes).

    `mask` is an hour-of-week activity pattern (168 booleans, Monday 00:00 first, local
    time) for dayparted line items; `ramp` = (a, b) weights each instant by
    a + b x (seconds since the horizon start), the frontloaded plan."""

    def __init__(self, forecast: TrafficForecast, h0: int, *, tz_offset_s: float = 0.0,
                 hours: int = 24 * 62) -> None:
        import numpy as np

        self._np = np
        self.h0 = h0
        self.hours = hours
        self.tz_offset_s = tz_offset_s
        self.t0 = h0 * HOUR - tz_offset_s  # epoch start of hour h0
        self.lam = np.array([forecast.expected(h) for h in range(h0, h0 + hours)], dtype=np.float64)
        self.t_mid = (np.arange(hours, dtype=np.float64) + 0.5) * HOUR  # relative to t0
        idx = np.arange(h0, h0 + hours)
        self.how = ((idx // 24 + 3) % 7) * 24 + idx % 24  # hour of week, Monday first
        self._sums: dict[tuple[bool, ...] | None, tuple] = {}

    def _prefix(self, mask: tuple[bool, ...] | None) -> tuple:
        cached = self._sums.get(mask)
        if cached is None:
            np = self._np
            v0 = self.lam if mask is None else self.lam * np.asarray(mask, dtype=np.float64)[self.how]
            v1 = v0 * self.t_mid
            c0 = np.concatenate(([0.0], np.cumsum(v0)))
            c1 = np.concatenate(([0.0], np.cumsum(v1)))
            week = v0[-168:] if self.hours >= 168 else v0
            cached = (v0, v1, c0, c1, float(week.mean()) if len(week) else 0.0)
            self._sums[mask] = cached
        return cached

    def _at(self, x: float, v0, v1, c0, c1) -> tuple[float, float]:
        i = int(x)
        if i >= self.hours:
            return float(c0[-1]), float(c1[-1])
        f = x - i
        return float(c0[i] + f * v0[i]), float(c1[i] + f * v1[i])

    def remaining(self, now: float, end: float, *, mask: tuple[bool, ...] | None = None,
                  ramp: tuple[float, float] | None = None) -> float:
        if end <= now:
            return 0.0
        v0, v1, c0, c1, per_hour = self._prefix(mask)
        x0 = max(0.0, (now - self.t0) / HOUR)
        x1 = max(x0, (end - self.t0) / HOUR)
        a0, a1 = self._at(x0, v0, v1, c0, c1)
        b0, b1 = self._at(min(x1, self.hours), v0, v1, c0, c1)
        a, b = ramp if ramp is not None else (1.0, 0.0)
        total = a * (b0 - a0) + b * (b1 - a1)
        if x1 > self.hours:  # past the horizon: the last week's mean, ramp at the midpoint
            extra_hours = x1 - max(x0, self.hours)
            mid = (max(x0, self.hours) + x1) / 2 * HOUR
            total += per_hour * extra_hours * max(0.0, a + b * mid)
        return max(0.0, total)
