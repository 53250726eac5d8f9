"""The seam for model scoring. The engine calls one `Scorer.score` per request with every
candidate (batched: never a call per candidate). `PriorScorer` uses calibrated priors
from the catalog; ONNX serving (decision/models/) implements the same protocol."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from decision.request import AdRequest


@dataclass(frozen=True, slots=True)
class ScoreBatch:
    """Scores aligned with the candidate sequence."""

    p_complete: Sequence[float]
    p_click: Sequence[float]
    tier: str  # T0 active version, T1 previous version, T2 calibrated priors, T3 no model
    versions: tuple[str, ...] = ()
    meta: dict[str, Any] | None = None


@runtime_checkable
class Scorer(Protocol):
    async def score(self, request: AdRequest, candidates: Sequence[Any], *, deadline: float | None = None) -> ScoreBatch:
        """`candidates` are the engine's candidate objects (each has `.line_item` and
        `.creative`). `deadline` is a `time.monotonic()` instant; past it, fall back."""
        ...
