"""The auction: rank by tier, then by eCPM; floors; clearing prices. Prices are CPM micros.

- eCPM: CPM line items bid their rate; CPCV line items bid rate x p(complete) x 1000
  (a completed view priced at r is worth r x p per impression, x 1000 per mille).
- Tiers are strict (sponsorship > standard > programmatic > house): `value` puts the tier
  in a weight far above any eCPM so that podding, which sums values, never trades a
  higher tier for lower ones.
- Floors: the largest `cpm_micros` and `per_second_micros x duration` among the catalog's
  floor rules matching the content (channel, genre, daypart, rating) and the config's
  defaults; `floor_exempt_tiers` (house and sponsorship by default) ignore them.
- Clearing: `first` pays the bid; `second` pays the best losing bid of the same tier
  that does not exceed it, plus `increment_micros` (0.01 CPM), never below the floor
  nor above the bid; with no runner-up it pays the floor. `fixed_price_tiers` always pay
  their rate (guaranteed deals). The default is first price, the CTV norm since 2019.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from decision.catalog import TIER_RANK, FloorRule

TIER_WEIGHT = 1e13  # > max ads x max eCPM (10 x $1,000,000 CPM in micros), < 2**53 / 5


@dataclass(frozen=True)
class AuctionConfig:
    mode: str = "first"  # first | second
    increment_micros: int = 10_000
    floor_cpm_micros: int = 0
    floor_per_second_micros: int = 0
    floor_exempt_tiers: tuple[str, ...] = ("sponsorship", "house")
    fixed_price_tiers: tuple[str, ...] = ("sponsorship", "house")

    def __post_init__(self) -> None:
        if self.mode not in ("first", "second"):
            raise ValueError(f"auction mode must be first or second, got {self.mode!r}")


def ecpm_micros(rate: np.ndarray, cpcv: np.ndarray, p_complete: np.ndarray) -> np.ndarray:
    return np.where(cpcv, rate * p_complete * 1000.0, rate)


def context_floor(rules: Sequence[FloorRule], config: AuctionConfig, *, channel: str | None, genre: str | None,
                  daypart: str | None, rating: str | None) -> tuple[float, float]:
    """(cpm_micros, per_second_micros) floors for the request's content."""
    cpm, per_s = float(config.floor_cpm_micros), float(config.floor_per_second_micros)
    for r in rules:
        if ((r.channel is None or r.channel == channel) and (r.genre is None or r.genre == genre)
                and (r.daypart is None or r.daypart == daypart) and (r.rating is None or r.rating == rating)):
            cpm = max(cpm, r.cpm_micros)
            per_s = max(per_s, r.per_second_micros)
    return cpm, per_s


def floors(durations: np.ndarray, tier_rank: np.ndarray, cpm: float, per_second: float,
           config: AuctionConfig) -> np.ndarray:
    f = np.maximum(cpm, per_second * durations)
    for tier in config.floor_exempt_tiers:
        f = np.where(tier_rank == TIER_RANK[tier], 0.0, f)
    return f


def values(tier_rank: np.ndarray, ecpm: np.ndarray) -> np.ndarray:
    return tier_rank * TIER_WEIGHT + ecpm


class Bid(NamedTuple):
    """A ranked candidate for podding: `index` into `snapshot.candidates`. A named tuple
    (immutable, cheap to build: the engine ranks up to `max_bids` per break)."""

    index: int
    tier: str
    ecpm_micros: float
    floor_micros: float
    value: float
    line_item_id: str


def clearing_price(winner: Bid, others: Sequence[Bid], winners: set[str], config: AuctionConfig) -> int:
    """`others`: the ranked bids of the request (winners included; they are skipped)."""
    if winner.tier in config.fixed_price_tiers or config.mode == "first":
        return int(round(winner.ecpm_micros))
    runner = None
    for b in others:
        if b.tier != winner.tier or b.line_item_id in winners or b.ecpm_micros > winner.ecpm_micros:
            continue
        if runner is None or b.ecpm_micros > runner:
            runner = b.ecpm_micros
    price = winner.floor_micros if runner is None else max(winner.floor_micros, runner + config.increment_micros)
    return int(round(min(winner.ecpm_micros, price)))
