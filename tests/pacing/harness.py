"""A synthetic spend world for pacing tests: traffic as a rate function, each line item
wins a fixed share of the requests it participates in, spend lands in the shared
counters through `record_delivery` like the beacon consumer's."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from decision.forecast import HOUR, hour_index, prior_weight
from decision.pacing import PacingController, hour_label, record_delivery

T0 = 1_700_006_400.0  # 2023-11-15 00:00 UTC, a Wednesday


@dataclass
class Bidder:
    line_item_id: str
    win_share: float  # share of offered requests it wins at full participation
    price_micros: int  # CPM micros

    @property
    def spend_each(self) -> int:
        return self.price_micros // 1000


def diurnal(level_per_hour: float) -> Callable[[float], float]:
    """Requests per second following the prior shape."""
    return lambda t: level_per_hour * prior_weight(hour_index(t)) / HOUR


async def seed_history(store, rate: Callable[[float], float], start: float, days: int) -> None:
    """Hourly request counters for the days before `start` (what a live store holds)."""
    h0 = hour_index(start)
    await store.incr_many([(f"pace:req:h:{hour_label(h)}", int(rate(h * HOUR + 1800) * HOUR), None)
                           for h in range(h0 - 24 * days, h0)])


async def spent(store, line_item_id: str) -> int:
    return (await store.get_ints([f"pace:spend:{line_item_id}:total"]))[0]


async def run(controllers: Sequence[PacingController], store, bidders: Sequence[Bidder],
              rate: Callable[[float], float], start: float, seconds: float, *, step: float = 5.0,
              seed: int = 1) -> int:
    """Advance `seconds` in refresh-sized steps; traffic is split evenly across the
    controllers (gateway instances). Returns the number of requests."""
    rng = np.random.default_rng(seed)
    total = 0
    t = start
    while t < start + seconds - 1e-9:
        for c in controllers:
            await c.refresh(t)
        n_total = int(rng.poisson(rate(t) * step))
        total += n_total
        share = n_total // len(controllers)
        for i, c in enumerate(controllers):
            n = share if i < len(controllers) - 1 else n_total - share * (len(controllers) - 1)
            c.note_request(n)
            for b in bidders:
                p = c.note_offers(b.line_item_id, n)  # every request is eligible
                wins = int(rng.binomial(n, min(1.0, p * b.win_share))) if n else 0
                served = 0
                for _ in range(wins):  # one by one: the local allowance may stop it mid-step
                    if c.note_offers(b.line_item_id, 0) <= 0.0:
                        break
                    c.note_served(b.line_item_id, b.spend_each, 1)
                    served += 1
                if served:
                    await record_delivery(store, b.line_item_id, t + step / 2,
                                          spend_micros=served * b.spend_each, impressions=served)
        t += step
    return total


async def run_hours(controllers, store, bidders, rate, start, hours, **kw) -> dict[str, list[int]]:
    """Run hour by hour; cumulative spend per bidder at the end of each hour."""
    curves: dict[str, list[int]] = {b.line_item_id: [] for b in bidders}
    for h in range(hours):
        await run(controllers, store, bidders, rate, start + h * HOUR, HOUR, seed=h + 7, **kw)
        for b in bidders:
            curves[b.line_item_id].append(await spent(store, b.line_item_id))
    return curves


def ideal_curve(rate: Callable[[float], float], start: float, hours: int, budget: float) -> list[float]:
    """Cumulative spend proportional to traffic (the `even` ideal), by hour end."""
    vols = [sum(rate(start + h * HOUR + m * 60 + 30) for m in range(60)) for h in range(hours)]
    out, acc = [], 0.0
    for v in vols:
        acc += v
        out.append(budget * acc / sum(vols))
    return out
