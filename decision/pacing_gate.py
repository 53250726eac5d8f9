"""The seam for budget pacing: the engine asks each candidate's participation rate and
throttles probabilistically. `OpenGate` passes everything (the default until a
controller is configured); decision/pacing.py implements a real controller. A gate may
also offer `participation_many(snapshot, line_item_indices, now) -> ndarray` (the same
answers for several line items of a snapshot at once); the engine uses it when present."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class PacingGate(Protocol):
    def participation(self, line_item_id: str, now: float) -> float:
        """Probability in [0, 1] that this line item may bid on a request at `now` (epoch s)."""
        ...


class OpenGate:
    def participation(self, line_item_id: str, now: float) -> float:
        return 1.0
