"""`PriorScorer`: calibrated priors from the catalog, adjusted by context (serving tier T2).

p_complete = line item prior x device factor x live factor x duration factor, clipped to
[0.01, 0.995]; p_click = line item prior CTR x device factor. The factors are the
long-run ratios our delivery logs show (CTV viewers rarely abandon an ad; longer
creatives complete a little less); they are constructor arguments so a calibration job
can refit them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from decision.request import AdRequest
from decision.scoring import ScoreBatch

DEVICE_COMPLETION = {"ctv": 1.0, "mobile": 0.82, "desktop": 0.78}
DEVICE_CLICK = {"ctv": 0.2, "mobile": 1.5, "desktop": 1.2}


class PriorScorer:
    tier = "T2"

    def __init__(self, device_completion: Mapping[str, float] | None = None,
                 device_click: Mapping[str, float] | None = None, live_factor: float = 0.97,
                 per_second_decay: float = 0.002) -> None:
        self.device_completion = dict(device_completion or DEVICE_COMPLETION)
        self.device_click = dict(device_click or DEVICE_CLICK)
        self.live_factor = live_factor
        self.per_second_decay = per_second_decay

    async def score(self, request: AdRequest, candidates: Sequence[Any], *, deadline: float | None = None) -> ScoreBatch:
        return self.score_sync(request, candidates)

    def score_sync(self, request: AdRequest, candidates: Sequence[Any]) -> ScoreBatch:
        return self.score_arrays(
            request, np.fromiter((c.line_item.prior_completion for c in candidates), np.float64, len(candidates)),
            np.fromiter((c.line_item.prior_ctr for c in candidates), np.float64, len(candidates)),
            np.fromiter((c.creative.duration_s for c in candidates), np.float64, len(candidates)))

    def score_arrays(self, request: AdRequest, completion: np.ndarray, ctr: np.ndarray,
                     duration_s: np.ndarray) -> ScoreBatch:
        """The same scores from aligned prior vectors (the engine's fast path)."""
        dev = self.device_completion.get(request.device_type, 0.8)
        if request.live:
            dev *= self.live_factor
        click = self.device_click.get(request.device_type, 1.0)
        pc = completion * dev * (1.0 - self.per_second_decay * np.maximum(0.0, duration_s - 15.0))
        return ScoreBatch(p_complete=np.clip(pc, 0.01, 0.995), p_click=ctr * click, tier=self.tier,
                          versions=("priors",))
