"""What serves when models cannot: a per-version circuit breaker and constant scores
(T3). Calibrated priors (T2) are decision/priors.py's `PriorScorer`."""

from __future__ import annotations

import time
from collections.abc import Callable

# T3: no model and no priors. Middle-of-the-road CTV rates so eCPM ranking degrades to
# price ranking instead of to zero.
CONSTANT_COMPLETE = 0.75
CONSTANT_CLICK = 0.005


class CircuitBreaker:
    """Opens after `threshold` consecutive failures; after `cooldown_s` lets one probe
    through (half-open); a success closes it."""

    def __init__(self, threshold: int = 3, cooldown_s: float = 5.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self._monotonic = monotonic
        self.failures = 0
        self.opened_at: float | None = None
        self._probing = False
        self.trips = 0

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half-open" if self._monotonic() - self.opened_at >= self.cooldown_s else "open"

    def allow(self) -> bool:
        if self.opened_at is None:
            return True
        if self._monotonic() - self.opened_at < self.cooldown_s or self._probing:
            return False
        self._probing = True
        return True

    def success(self) -> None:
        self.failures = 0
        self.opened_at = None
        self._probing = False

    def failure(self) -> None:
        self.failures += 1
        if self._probing or self.failures >= self.threshold:
            if self.opened_at is None or self._probing:
                self.trips += 1
            self.opened_at = self._monotonic()
        self._probing = False


def constant_batch(n: int) -> tuple[list[float], list[float]]:
    return [CONSTANT_COMPLETE] * n, [CONSTANT_CLICK] * n
