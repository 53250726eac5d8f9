"""Token buckets keyed by source (IP, session), with an injected monotonic clock.
Bounded: the least recently used keys are dropped (a dropped key starts full again,
which only errs on the side of letting a beacon through)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable


class TokenBuckets:
    def __init__(self, rate: float, burst: float, *, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 100_000) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._max = max_keys
        # key -> complex(tokens, last refill): two floats in one object the cyclic GC
        # never tracks. A (tokens, time) tuple per beacon, per bucket, was a new tracked
        # object every take, and these were half of what a beacon left alive for the
        # young GC generation to scan (its pauses came twice as often)
        self._buckets: OrderedDict[str, complex] = OrderedDict()

    def take(self, key: str, cost: float = 1.0) -> float:
        """0.0 when allowed (and the tokens are spent), else seconds until it would be."""
        now = self._clock()
        state = self._buckets.pop(key, None)
        tokens = self.burst if state is None else min(self.burst, state.real + (now - state.imag) * self.rate)
        if tokens >= cost:
            self._buckets[key] = complex(tokens - cost, now)
            wait = 0.0
        else:
            self._buckets[key] = complex(tokens, now)
            wait = (cost - tokens) / self.rate
        while len(self._buckets) > self._max:
            self._buckets.popitem(last=False)
        return wait

    def __len__(self) -> int:
        return len(self._buckets)
