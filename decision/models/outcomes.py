"""Calibration outcomes: what the beacon counters record per model version, and how a
scorer reads them back.

Every placed ad carries the predictions that placed it and the versions that made them
(`PlacedAd.p_complete` / `p_click`, `complete_model` / `click_model`); the beacon token
and the event carry them on. The counters consumer then adds, exactly once per event id:

    calib:<name>@<version>:n            impressions scored by that version
    calib:<name>@<version>:pred         sum of its predictions on them, in micro-units
    calib:<name>@<version>:obs          impressions with the outcome (`complete` events for
                                        a completion model, `click` events for a click model)
    calib:<name>@<version>:<cohort>:…   the same per cohort: the 5-minute window of the
                                        ad's scheduled start (epoch seconds), TTL 2 days

The all-time counters are for operators. The monitor reads cohorts: a `complete` arrives
up to an ad's duration after its impression, so a ratio over every impression so far
counts predictions whose outcomes cannot have arrived yet and reads as over-prediction
(a fresh canary would look 2x over-confident in its first minute). Summing only cohorts
old enough for their outcomes to be in (`maturity_s`) compares like with like.

Only real model versions (`name@version`) are counted; priors and constants are not.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

MICRO = 1_000_000
COHORT_S = 300
COHORT_TTL_S = 2 * 86400.0
# the model's target -> the event that is its positive outcome
OUTCOME_EVENT = {"complete": "complete", "click": "click"}
PARTS = ("n", "pred", "obs")


def is_version_label(label: Any) -> bool:
    return isinstance(label, str) and 0 < label.find("@") < len(label) - 1


def cohort_of(epoch_s: float) -> int:
    return int(epoch_s // COHORT_S) * COHORT_S


def key(label: str, part: str, cohort: int | None = None) -> str:
    return f"calib:{label}:{part}" if cohort is None else f"calib:{label}:{cohort}:{part}"


def outcome_ops(event: str, model: Mapping[str, Any] | None,
                scheduled_s: float | None) -> list[tuple[str, int, float | None]]:
    """Counter increments for one event whose `model` block says which versions scored
    the ad (`{"complete": label, "click": label, "p_complete": p, "p_click": p}`)."""
    if not isinstance(model, Mapping):
        return []
    cohort = cohort_of(scheduled_s) if scheduled_s is not None else None
    ops: list[tuple[str, int, float | None]] = []

    def add(label: str, part: str, amount: int) -> None:
        ops.append((key(label, part), amount, None))
        if cohort is not None:
            ops.append((key(label, part, cohort), amount, COHORT_TTL_S))

    for target, outcome in OUTCOME_EVENT.items():
        label = model.get(target)
        if not is_version_label(label):
            continue
        if event == "impression":
            p = model.get(f"p_{target}")
            if isinstance(p, bool) or not isinstance(p, int | float) or not math.isfinite(p):
                continue
            add(label, "n", 1)
            add(label, "pred", round(min(max(float(p), 0.0), 1.0) * MICRO))
        elif event == outcome:
            add(label, "obs", 1)
    return ops


def mature_cohorts(now: float, window_s: float, maturity_s: float) -> list[int]:
    """Cohorts that ended at least `maturity_s` ago and started within `window_s`."""
    last = cohort_of(now - maturity_s) - COHORT_S  # the newest cohort that has fully ended
    first = cohort_of(now - window_s)
    return list(range(first, last + 1, COHORT_S))


async def read_cohorts(store: Any, labels: Sequence[str],
                       cohorts: Sequence[int]) -> dict[str, tuple[int, int, int]]:
    """{label: (impressions, predicted micro-units, outcomes)} summed over `cohorts`, in
    one store read."""
    keys = [key(label, part, c) for label in labels for c in cohorts for part in PARTS]
    values = await store.get_ints(keys) if keys else []
    out: dict[str, tuple[int, int, int]] = {}
    per_label = len(cohorts) * len(PARTS)
    for i, label in enumerate(labels):
        chunk = values[i * per_label:(i + 1) * per_label]
        out[label] = (sum(chunk[0::3]), sum(chunk[1::3]), sum(chunk[2::3]))
    return out


__all__ = ["COHORT_S", "MICRO", "cohort_of", "is_version_label", "key", "mature_cohorts", "outcome_ops",
           "read_cohorts"]
