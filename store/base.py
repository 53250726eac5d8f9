"""The store interface (a Protocol) and its error tree."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable


class StoreError(Exception):
    """Base of store errors; `retriable` tells callers whether a retry may help."""

    retriable = False


class StoreUnavailable(StoreError):
    """The backing service cannot be reached (connection refused, timeout)."""

    retriable = True


@runtime_checkable
class Store(Protocol):
    """Async shared-state operations. Keys are plain strings; TTLs are seconds (float ok).

    Callers namespace keys themselves (`cap:…`, `dedup:…`, `sess:…`, `feat:…`).
    Batch methods are one round trip on Redis (pipelined); use them on hot paths.
    """

    name: str

    async def ping(self) -> bool: ...

    # counters
    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        """Add `amount` (may be negative) and return the new value; `ttl` is set when the
        key is created (an existing key keeps its expiry)."""

    async def incr_many(self, ops: Sequence[tuple[str, int, float | None]]) -> list[int]:
        """`incr` for each (key, amount, ttl), in one round trip; returns the new values."""

    async def get_ints(self, keys: Sequence[str]) -> list[int]:
        """Current values of counters (0 for missing keys), in one round trip."""

    # set-if-absent / plain values
    async def set_if_absent(self, key: str, value: str | bytes, ttl: float | None = None) -> bool:
        """Store `value` unless `key` exists; True when this call stored it."""

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: str | bytes, ttl: float | None = None) -> None: ...

    async def delete(self, *keys: str) -> int: ...

    async def pop_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """Get and delete each key, in order, in one round trip; atomic per key (of two
        concurrent pops of a key exactly one gets its value). A key repeated in `keys`
        yields its value once, then None."""

    async def expire(self, key: str, ttl: float) -> bool: ...

    # hashes
    async def hset(self, key: str, mapping: Mapping[str, str | bytes | int | float], ttl: float | None = None) -> None: ...

    async def hgetall(self, key: str) -> dict[str, bytes]: ...

    async def hgetall_many(self, keys: Sequence[str]) -> list[dict[str, bytes]]:
        """`hgetall` for several keys in one round trip (feature hydration)."""

    async def hincr(self, key: str, field: str, amount: int = 1) -> int: ...

    # small JSON documents
    async def get_json(self, key: str) -> Any | None: ...

    async def set_json(self, key: str, value: Any, ttl: float | None = None) -> None: ...

    async def set_json_if_absent(self, key: str, value: Any, ttl: float | None = None) -> bool: ...

    async def close(self) -> None: ...
