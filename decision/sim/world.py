"""The synthetic world: who watches what when, and how viewers respond to ads.

Traffic: a request volume per hour (a CTV diurnal curve that differs from the pacing
prior, a weekly curve, a live-event spike: scheduled, so the pacing forecast is told of
it like a broadcaster's calendar would, or with `spike_announced=False` a surprise that
only the observed traffic reveals), a device population with
heavy-tailed repeat viewing (lognormal activity), streams (device x hour), and a
content mix that shifts with the hour (kids in the morning, news at breakfast and
dinner, drama and movies in prime time, sports live during the event). The attribute
values the catalog targets (decision/targeting.py) are merged into the vocabulary so
every line item can find its audience.

Response: each served ad renders (impression) with `p_render`, completes with a true
completion probability (line item prior x device x live x a hidden per-line-item
quality) and is clicked with a true CTR; the scorer never sees the hidden factors.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from decision.forecast import CTV_DIURNAL, HOUR, WEEKLY, ScheduledEvent
from decision.pod import BreakSpec
from decision.request import AdRequest

__all__ = ["WorldConfig", "World", "HourBatch", "catalog_vocabulary"]

# The world's true shape: the prior's curve, bent (later evening peak, busier lunch)
# so the forecast has something to learn.
TRUE_DIURNAL = tuple(v * b for v, b in zip(CTV_DIURNAL, (
    1.10, 1.05, 1.00, 0.95, 0.95, 0.95, 0.90, 0.92, 0.95, 0.97, 1.00, 1.08,
    1.12, 1.05, 1.00, 0.98, 0.96, 0.95, 0.97, 1.00, 1.03, 1.06, 1.08, 1.10,
), strict=True))

# (channel, genre, rating, live, base weight, hour-of-day profile name)
CONTENT: tuple[tuple[str, str, str, bool, float, str], ...] = (
    ("news24", "news", "TV-PG", True, 0.12, "news"),
    ("sportsnet", "sports", "TV-PG", True, 0.10, "flat"),
    ("kidstv", "kids", "TV-Y", False, 0.08, "kids"),
    ("familyplus", "family", "TV-G", False, 0.07, "kids"),
    ("dramahub", "drama", "TV-14", False, 0.18, "prime"),
    ("comedyzone", "comedy", "TV-14", False, 0.14, "prime"),
    ("cinemax", "movies", "TV-MA", False, 0.11, "late"),
    ("realityone", "reality", "TV-PG", False, 0.12, "flat"),
    ("docworld", "documentary", "TV-G", False, 0.08, "flat"),
)
PROFILES = {
    "flat": [1.0] * 24,
    "news": [0.6] * 6 + [1.8] * 4 + [0.9] * 7 + [1.6] * 3 + [0.8] * 4,
    "kids": [0.3] * 6 + [2.2] * 4 + [1.5] * 6 + [1.2] * 3 + [0.4] * 5,
    "prime": [0.7] * 6 + [0.5] * 4 + [0.8] * 6 + [1.0] * 3 + [1.6] * 4 + [1.0],
    "late": [1.6] * 3 + [1.2] * 3 + [0.4] * 10 + [0.8] * 3 + [1.3] * 5,
}
DEVICE_TYPES = (("ctv", 0.82), ("mobile", 0.11), ("desktop", 0.07))
COUNTRIES = (("US", 0.86), ("CA", 0.09), ("GB", 0.05))
US_REGIONS = (("CA", 0.14), ("TX", 0.10), ("NY", 0.08), ("FL", 0.08), ("IL", 0.05), ("PA", 0.05),
              ("OH", 0.04), ("GA", 0.04), ("WA", 0.04), ("MA", 0.03))
DMAS = {"CA": ("803", "807", "825"), "TX": ("618", "623", "641"), "NY": ("501", "555"), "FL": ("528", "534", "539"),
        "IL": ("602",), "PA": ("504", "508"), "OH": ("510", "515"), "GA": ("524",), "WA": ("819",), "MA": ("506",)}
SEGMENTS = ("sports_fans", "parents", "auto_intenders", "travel", "foodies", "gamers", "finance", "moviegoers")
BREAKS = ((15.0, 0.10), (30.0, 0.30), (60.0, 0.30), (90.0, 0.15), (120.0, 0.15))
POSITIONS = (("pre", 0.25), ("mid", 0.65), ("post", 0.10))
TRUE_COMPLETION = {"ctv": 0.97, "mobile": 0.80, "desktop": 0.76}
TRUE_CLICK = {"ctv": 0.25, "mobile": 1.4, "desktop": 1.1}


@dataclass(frozen=True)
class WorldConfig:
    devices: int | None = None  # default: requests / 25, at least 2,000
    activity_sigma: float = 1.0  # lognormal spread of viewing (repeat viewers)
    lmt_share: float = 0.05
    segment_share: float = 0.35  # devices with audience segments
    spike_hour: float | None = 20.0  # hours after the start; None: no live event
    spike_hours: float = 1.0
    spike_factor: float = 2.5  # traffic multiplier during the event (sports, live)
    spike_announced: bool = True  # on the pacing forecast's event calendar; False: a surprise
    noise: float = 0.03  # hour-to-hour volume noise (relative)
    p_render: float = 0.98  # an ad that renders counts an impression
    max_ads: int = 10


def _pick(pairs: Sequence[tuple[Any, float]]) -> tuple[list[Any], np.ndarray]:
    values = [v for v, _ in pairs]
    w = np.array([w for _, w in pairs], dtype=np.float64)
    return values, w / w.sum()


def catalog_vocabulary(snapshot: Any) -> dict[str, set[str]]:
    """Attribute values targeted anywhere in the catalog (`in`/`eq` leaves)."""
    found: dict[str, set[str]] = {}

    def walk(expr: Any) -> None:
        if not isinstance(expr, dict) or len(expr) != 1:
            return
        (op, arg), = expr.items()
        if op in ("all", "any"):
            for e in arg:
                walk(e)
        elif op == "not":
            walk(arg)
        elif op == "in":
            found.setdefault(arg[0], set()).update(str(v) for v in arg[1])
        elif op == "eq":
            found.setdefault(arg[0], set()).add(str(arg[1]))

    for li in getattr(snapshot, "line_items", ()):
        walk(li.targeting)
    return found


def _stable_unit(*parts: str) -> float:
    """A deterministic number in [0, 1) from strings (hidden per-line-item truths)."""
    digest = hashlib.blake2b("|".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@dataclass
class HourBatch:
    """One simulated hour of requests, as parallel arrays plus built requests."""

    hour: int  # hours since the start
    times: np.ndarray
    requests: list[AdRequest]
    breaks: list[BreakSpec]
    streams: list[str]
    uniforms: np.ndarray  # (n, max_ads, 3): render, complete, click draws per slot
    spike: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))


class World:
    """Deterministic for a (seed, config, start, catalog vocabulary)."""

    def __init__(self, *, start: float, hours: float, requests: int, seed: int, tz_offset_s: float = 0.0,
                 config: WorldConfig | None = None, vocabulary: dict[str, set[str]] | None = None) -> None:
        self.start = start
        self.hours = hours
        self.total_requests = requests
        self.seed = seed
        self.tz_offset_s = tz_offset_s
        self.config = config or WorldConfig()
        self.vocabulary = vocabulary or {}
        rng = np.random.default_rng([seed, 1])
        n_hours = max(1, math.ceil(hours))
        weights = np.array([self.relative_volume(start + h * HOUR) for h in range(n_hours)])
        if hours < n_hours:
            weights[-1] *= hours - (n_hours - 1)
        weights *= rng.lognormal(0.0, self.config.noise, n_hours)
        self.spike_mask = np.zeros(n_hours, dtype=bool)
        if self.config.spike_hour is not None:
            for h in range(n_hours):
                if self.config.spike_hour <= h < self.config.spike_hour + self.config.spike_hours:
                    self.spike_mask[h] = True
        base = weights.copy()
        weights = np.where(self.spike_mask, weights * self.config.spike_factor, weights)
        self.hour_counts = rng.multinomial(requests, weights / weights.sum())
        # what hour counts look like without the event, for the forecast history
        self.base_per_weight = requests / weights.sum()
        self._base = base
        self._build_population(rng)
        self._build_content()

    # volume -------------------------------------------------------------------------
    def relative_volume(self, t: float) -> float:
        """True relative request volume at time t (no event, no noise)."""
        local_hour = math.floor((t + self.tz_offset_s) / HOUR)
        day = local_hour // 24
        return TRUE_DIURNAL[local_hour % 24] * WEEKLY[(day + 3) % 7]

    def expected_count(self, t: float) -> float:
        """Expected requests in the hour starting at t, on an ordinary day."""
        return self.base_per_weight * self.relative_volume(t)

    def scheduled_events(self) -> tuple[ScheduledEvent, ...]:
        """The live event as a broadcaster's calendar has it (none when it is unannounced)."""
        cfg = self.config
        if cfg.spike_hour is None or not cfg.spike_announced or cfg.spike_hours <= 0:
            return ()
        start = self.start + cfg.spike_hour * HOUR
        return (ScheduledEvent(start, start + cfg.spike_hours * HOUR, cfg.spike_factor, "live event"),)

    def history(self, days: int) -> dict[int, int]:
        """Plausible hourly request counts for the `days` before the start (hour index
        -> count), with the same noise: what a live store would hold."""
        rng = np.random.default_rng([self.seed, 2])
        out: dict[int, int] = {}
        first = math.floor((self.start + self.tz_offset_s) / HOUR) - 24 * days
        for i in range(24 * days):
            h = first + i
            lam = self.expected_count(h * HOUR - self.tz_offset_s) * rng.lognormal(0.0, self.config.noise)
            out[h] = int(rng.poisson(lam))
        return out

    # population -----------------------------------------------------------------------
    def _build_population(self, rng: np.random.Generator) -> None:
        cfg = self.config
        n = cfg.devices or max(2_000, self.total_requests // 25)
        self.n_devices = n
        activity = rng.lognormal(0.0, cfg.activity_sigma, n)
        self.activity = activity / activity.sum()
        types, tw = _pick(DEVICE_TYPES)
        extra_dt = [v for v in self.vocabulary.get("device_type", ()) if v not in types]
        types += extra_dt
        tw = np.append(tw * (1 - 0.02 * len(extra_dt)), [0.02] * len(extra_dt))
        self.dev_type = [types[i] for i in rng.choice(len(types), n, p=tw / tw.sum())]
        countries, cw = _pick(COUNTRIES)
        extra_c = [v.upper() for v in self.vocabulary.get("country", ()) if v.upper() not in countries]
        countries += extra_c
        cw = np.append(cw * (1 - 0.02 * len(extra_c)), [0.02] * len(extra_c))
        self.dev_country = [countries[i] for i in rng.choice(len(countries), n, p=cw / cw.sum())]
        regions, rw = _pick(US_REGIONS)
        extra_r = [v.upper() for v in self.vocabulary.get("region", ()) if v.upper() not in regions]
        regions += extra_r
        rw = np.append(rw * 0.9, [0.1 / max(1, len(extra_r))] * len(extra_r)) if extra_r else rw
        region_idx = rng.choice(len(regions), n, p=rw / rw.sum())
        dma_extra = sorted(self.vocabulary.get("dma", ()))
        self.dev_region: list[str | None] = []
        self.dev_dma: list[str | None] = []
        for i in range(n):
            if self.dev_country[i] != "US":
                self.dev_region.append(None)
                self.dev_dma.append(None)
                continue
            region = regions[region_idx[i]]
            dmas = DMAS.get(region, ()) + tuple(dma_extra)
            self.dev_region.append(region)
            self.dev_dma.append(dmas[int(rng.integers(len(dmas)))] if dmas else None)
        self.dev_lmt = rng.random(n) < cfg.lmt_share
        segments = sorted(set(SEGMENTS) | set(self.vocabulary.get("segment", ())))
        has = rng.random(n) < cfg.segment_share
        self.dev_segments: list[tuple[str, ...]] = []
        for i in range(n):
            if not has[i]:
                self.dev_segments.append(())
                continue
            k = 1 + int(rng.integers(3))
            self.dev_segments.append(tuple(sorted({segments[j] for j in rng.choice(len(segments), k)})))

    def _build_content(self) -> None:
        content = list(CONTENT)
        known_genres = {c[1] for c in content}
        known_channels = {c[0] for c in content}
        for genre in sorted(self.vocabulary.get("genre", ())):
            if genre.lower() not in known_genres:
                content.append((f"{genre.lower()}tv", genre.lower(), "TV-PG", False, 0.04, "flat"))
        for channel in sorted(self.vocabulary.get("channel", ())):
            if channel not in known_channels:
                content.append((channel, "entertainment", "TV-PG", False, 0.04, "flat"))
        self.content = content
        self.content_weights = np.array([[c[4] * PROFILES[c[5]][h] for c in content] for h in range(24)])
        self.content_weights /= self.content_weights.sum(axis=1, keepdims=True)
        sports = [i for i, c in enumerate(content) if c[1] == "sports"]
        self.sports_idx = sports[0] if sports else 0
        self.break_durations, self.break_p = _pick(BREAKS)
        self.positions, self.position_p = _pick(POSITIONS)

    # requests -----------------------------------------------------------------------
    def hours_iter(self) -> Iterator[HourBatch]:
        for h, n in enumerate(self.hour_counts):
            yield self.hour_batch(h, int(n))

    def hour_batch(self, h: int, n: int) -> HourBatch:
        cfg = self.config
        rng = np.random.default_rng([self.seed, 3, h])
        t0 = self.start + h * HOUR
        span = min(HOUR, (self.start + self.hours * HOUR) - t0)
        times = np.sort(t0 + rng.random(n) * span)
        devices = rng.choice(self.n_devices, n, p=self.activity)
        local_hod = math.floor((t0 + self.tz_offset_s) / HOUR) % 24
        content = rng.choice(len(self.content), n, p=self.content_weights[local_hod])
        spike = np.zeros(n, dtype=bool)
        if self.spike_mask[h]:
            extra = 1.0 - 1.0 / cfg.spike_factor
            spike = rng.random(n) < extra
            content = np.where(spike, self.sports_idx, content)
        dur_i = rng.choice(len(self.break_durations), n, p=self.break_p)
        pos_i = rng.choice(len(self.positions), n, p=self.position_p)
        uniforms = rng.random((n, cfg.max_ads, 3))
        requests: list[AdRequest] = []
        breaks: list[BreakSpec] = []
        streams: list[str] = []
        for i in range(n):
            d = int(devices[i])
            channel, genre, rating, live, _, _ = self.content[content[i]]
            sid = f"s{d}-{h}"
            lmt = bool(self.dev_lmt[d])
            position = self.positions[pos_i[i]]
            requests.append(AdRequest(
                sid=sid, duration_s=self.break_durations[dur_i[i]], position=position,
                cid=f"{channel}-{(h * 7 + d) % 50}", genre=genre, rating=rating, channel=channel,
                live=live or bool(spike[i]), ifa=None if lmt else f"ifa-{d:07d}", lmt=lmt,
                device_type=self.dev_type[d], ip=f"203.0.{d % 250}.{d % 199}", country=self.dev_country[d],
                region=self.dev_region[d], dma=self.dev_dma[d], segments=self.dev_segments[d],
            ))
            breaks.append(BreakSpec(f"{h}-{i}", self.break_durations[dur_i[i]], position))
            streams.append(sid)
        return HourBatch(h, times, requests, breaks, streams, uniforms, spike)

    # response -------------------------------------------------------------------------
    def quality(self, line_item_id: str) -> float:
        """Hidden multiplier of a line item's completion and click rates (0.9 .. 1.05)."""
        return 0.9 + 0.15 * _stable_unit(str(self.seed), line_item_id)

    def true_rates(self, request: AdRequest, line_item: Any, duration_s: float) -> tuple[float, float]:
        """(p_complete, p_click) of the synthetic world."""
        q = self.quality(line_item.id)
        pc = line_item.prior_completion * TRUE_COMPLETION.get(request.device_type, 0.8) * q
        if request.live:
            pc *= 0.96
        pc *= 1.0 - 0.0025 * max(0.0, duration_s - 15.0)
        pk = line_item.prior_ctr * TRUE_CLICK.get(request.device_type, 1.0) * q
        return min(0.995, max(0.01, pc)), min(0.5, max(0.0, pk))
