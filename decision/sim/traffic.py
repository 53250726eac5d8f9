"""Recorded traffic: a JSONL file of ad requests replayed instead of the generator.

One request per line: `{"t": epoch seconds or ISO 8601, "params": {contract query
parameters: sid, dur, pos, genre, ...}}`; the parameters may also sit at the top level
beside `t`. Lines that do not parse are counted and skipped. `write_traffic` exports
generated traffic in the same format (to replay it later or elsewhere).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from decision.errors import InvalidRequest
from decision.forecast import HOUR, prior_weight
from decision.pod import BreakSpec
from decision.request import AdRequest, parse_ad_request
from decision.sim.world import HourBatch, World

__all__ = ["RecordedTraffic", "write_traffic"]


def _epoch(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) / (1000.0 if value > 1e11 else 1.0)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


class RecordedTraffic:
    """Requests from a JSONL file, grouped into simulated hours from the first request
    (or `start`). Offers the same interface as `World` to the runner."""

    def __init__(self, path: str | Path, *, seed: int, hours: float | None = None, start: float | None = None,
                 tz_offset_s: float = 0.0, max_requests: int | None = None, max_ads: int = 10) -> None:
        self.path = Path(path)
        self.seed = seed
        self.tz_offset_s = tz_offset_s
        self.max_ads = max_ads
        self.skipped = 0
        rows: list[tuple[float, AdRequest]] = []
        with self.path.open("rb") as fh:
            for line in fh:
                if not line.strip():
                    continue
                try:
                    doc = orjson.loads(line)
                    params = doc.get("params") or {k: v for k, v in doc.items() if k != "t"}
                    req = parse_ad_request({k: str(v) for k, v in params.items()}, strict=False)
                    rows.append((_epoch(doc["t"]), req))
                except (orjson.JSONDecodeError, InvalidRequest, KeyError, ValueError, TypeError, AttributeError):
                    self.skipped += 1
                if max_requests is not None and len(rows) >= max_requests:
                    break
        rows.sort(key=lambda r: r[0])
        self.rows = rows
        first = rows[0][0] if rows else 0.0
        self.start = start if start is not None else math.floor((first + tz_offset_s) / HOUR) * HOUR - tz_offset_s
        last = rows[-1][0] if rows else self.start
        self.hours = hours if hours is not None else max(1.0, math.ceil((last - self.start + 1) / HOUR))
        end = self.start + self.hours * HOUR
        self.rows = [r for r in rows if self.start <= r[0] < end]
        self.total_requests = len(self.rows)
        n_hours = max(1, math.ceil(self.hours))
        self.hour_counts = np.zeros(n_hours, dtype=np.int64)
        for t, _ in self.rows:
            self.hour_counts[min(n_hours - 1, int((t - self.start) // HOUR))] += 1
        weights = [prior_weight(math.floor((self.start + h * HOUR + tz_offset_s) / HOUR)) for h in range(n_hours)]
        self._level = self.hour_counts.sum() / max(1e-9, sum(weights))

    def expected_count(self, t: float) -> float:
        return self._level * prior_weight(math.floor((t + self.tz_offset_s) / HOUR))

    def relative_volume(self, t: float) -> float:
        return prior_weight(math.floor((t + self.tz_offset_s) / HOUR))

    def history(self, days: int) -> dict[int, int]:
        return {}  # a recording brings no history: the forecast starts cold

    def hours_iter(self) -> Iterator[HourBatch]:
        i = 0
        for h, n in enumerate(self.hour_counts):
            rows = self.rows[i:i + int(n)]
            i += int(n)
            rng = np.random.default_rng([self.seed, 3, h])
            yield HourBatch(
                hour=h, times=np.array([t for t, _ in rows]), requests=[r for _, r in rows],
                breaks=[BreakSpec(f"{h}-{j}", r.duration_s, r.position) for j, (_, r) in enumerate(rows)],
                streams=[r.sid for _, r in rows], uniforms=rng.random((len(rows), self.max_ads, 3)),
                spike=np.zeros(len(rows), dtype=bool),
            )

    # the response model is the world's (for its hidden truths)
    def response_world(self) -> World:
        return World(start=self.start, hours=1, requests=1, seed=self.seed, tz_offset_s=self.tz_offset_s)


_FIELDS = (("duration_s", "dur"), ("position", "pos"), ("cid", "cid"), ("genre", "genre"), ("rating", "rating"),
           ("channel", "channel"), ("ifa", "ifa"), ("device_type", "dt"), ("ip", "ip"), ("country", "country"),
           ("region", "region"), ("dma", "dma"))


def request_params(request: AdRequest) -> dict[str, str]:
    params = {"sid": request.sid}
    for attr, name in _FIELDS:
        value = getattr(request, attr)
        if value is not None:
            params[name] = f"{value:g}" if isinstance(value, float) else str(value)
    if request.live:
        params["live"] = "1"
    if request.lmt:
        params["lmt"] = "1"
    if request.segments:
        params["seg"] = ",".join(request.segments)
    return params


def write_traffic(world: World, path: str | Path) -> int:
    """Write the world's requests as JSONL; returns how many."""
    n = 0
    with Path(path).open("wb") as fh:
        for batch in world.hours_iter():
            for t, req in zip(batch.times, batch.requests, strict=True):
                fh.write(orjson.dumps({"t": round(float(t), 3), "params": request_params(req)}) + b"\n")
                n += 1
    return n
