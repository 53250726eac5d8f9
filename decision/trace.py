"""The decision trace: why each candidate was dropped, and what ran.

Built only when `decide(..., trace=True)`; `Pod.trace` then holds `Trace.to_dict()`, plain
JSON types only:

    {"catalog_version": str, "now": float, "break_id": str, "context": {attr: [values]},
     "counts": {stage: candidates left after it},
     "dropped": [{"line_item": id, "creative": id | null, "stage": str, "reason": str,
                  "detail": str | null}],
     "solver": "dp" | "greedy", "selected": [{"line_item", "creative", "ecpm_micros",
                  "price_micros"}]}

Stages run in this order; each names its reasons (`REASONS`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

REASONS: dict[str, tuple[str, ...]] = {
    "retrieval": ("targeting",),
    "flight": ("out_of_flight", "daypart"),
    "policy": ("rating_not_allowed", "privacy_segment_targeting", "kids_content", "blocked_domain",
               "blocked_category"),
    "compatibility": ("duration_exceeds_break", "duration_exceeds_max_ad", "no_renditions"),
    "pacing": ("paced",),
    "caps": ("frequency_cap",),
    "separation": ("stream_separation",),
    "auction": ("below_floor", "rank_cutoff"),
    "podding": ("not_selected", "cap_reserve_failed"),
}


@dataclass
class Trace:
    catalog_version: str
    now: float
    break_id: str = ""
    context: dict[str, list[str]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    dropped: list[dict[str, Any]] = field(default_factory=list)
    solver: str = ""
    selected: list[dict[str, Any]] = field(default_factory=list)

    def drop(self, stage: str, reason: str, line_item: str, creative: str | None = None,
             detail: str | None = None) -> None:
        self.dropped.append({"line_item": line_item, "creative": creative, "stage": stage, "reason": reason,
                             "detail": detail})

    def count(self, stage: str, n: int) -> None:
        self.counts[stage] = int(n)

    def fork(self, break_id: str) -> Trace:
        """A per-break copy of the request-level part."""
        return Trace(self.catalog_version, self.now, break_id, dict(self.context), dict(self.counts),
                     list(self.dropped))

    def reasons_for(self, line_item: str) -> list[str]:
        return [d["reason"] for d in self.dropped if d["line_item"] == line_item]

    def to_dict(self) -> dict[str, Any]:
        return {
            "catalog_version": self.catalog_version, "now": self.now, "break_id": self.break_id,
            "context": self.context, "counts": self.counts, "dropped": self.dropped, "solver": self.solver,
            "selected": self.selected,
        }
