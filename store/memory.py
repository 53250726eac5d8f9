"""In-process store: the embedded default, and the reference for the contract tests.

Expiry is lazy (checked on access) plus a sweep of what has expired, found through a
heap of deadlines so a sweep costs only the expired keys (a scan of every key was a
several-millisecond pause on the decide path). Time comes from an injected monotonic
clock so tests can move it.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson


def _b(value: str | bytes | int | float) -> bytes:
    if isinstance(value, bytes):
        return value
    return str(value).encode()


class MemoryStore:
    name = "memory"

    def __init__(self, clock: Callable[[], float] = time.monotonic, sweep_every: int = 256) -> None:
        self._clock = clock
        self._data: dict[str, Any] = {}
        self._expiry: dict[str, float] = {}
        # (deadline, key); entries go stale when a key's TTL changes or it is deleted, and
        # are skipped when popped (the dict above is the truth)
        self._deadlines: list[tuple[float, str]] = []
        self._ops = 0
        self._sweep_every = sweep_every

    # expiry -------------------------------------------------------------
    def _alive(self, key: str) -> bool:
        deadline = self._expiry.get(key)
        if deadline is not None and deadline <= self._clock():
            self._data.pop(key, None)
            self._expiry.pop(key, None)
            return False
        return key in self._data

    def _touch(self) -> None:
        self._ops += 1
        if self._ops % self._sweep_every == 0:
            now = self._clock()
            heap = self._deadlines
            while heap and heap[0][0] <= now:
                deadline, key = heapq.heappop(heap)
                if self._expiry.get(key) == deadline:
                    self._data.pop(key, None)
                    del self._expiry[key]
            if len(heap) > 2 * len(self._expiry) + 1024:  # too many stale entries: rebuild
                self._deadlines = [(d, k) for k, d in self._expiry.items()]
                heapq.heapify(self._deadlines)

    def _set_ttl(self, key: str, ttl: float | None) -> None:
        if ttl is None:
            self._expiry.pop(key, None)
        else:
            deadline = self._clock() + ttl
            self._expiry[key] = deadline
            heapq.heappush(self._deadlines, (deadline, key))

    # interface ------------------------------------------------------------
    async def ping(self) -> bool:
        return True

    def _incr(self, key: str, amount: int, ttl: float | None) -> int:
        self._touch()
        if self._alive(key):
            value = int(self._data[key]) + amount
            self._data[key] = value
            return value
        self._data[key] = amount
        self._set_ttl(key, ttl)
        return amount

    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        return self._incr(key, amount, ttl)

    async def incr_many(self, ops: Sequence[tuple[str, int, float | None]]) -> list[int]:
        return [self._incr(k, a, t) for k, a, t in ops]

    async def get_ints(self, keys: Sequence[str]) -> list[int]:
        return [int(self._data[k]) if self._alive(k) else 0 for k in keys]

    async def set_if_absent(self, key: str, value: str | bytes, ttl: float | None = None) -> bool:
        self._touch()
        if self._alive(key):
            return False
        self._data[key] = _b(value)
        self._set_ttl(key, ttl)
        return True

    async def get(self, key: str) -> bytes | None:
        if not self._alive(key):
            return None
        value = self._data[key]
        return value if isinstance(value, bytes) else _b(value)

    async def set(self, key: str, value: str | bytes, ttl: float | None = None) -> None:
        self._touch()
        self._data[key] = _b(value)
        self._set_ttl(key, ttl)

    async def delete(self, *keys: str) -> int:
        n = 0
        for key in keys:
            if self._alive(key):
                n += 1
            self._data.pop(key, None)
            self._expiry.pop(key, None)
        return n

    async def pop_many(self, keys: Sequence[str]) -> list[bytes | None]:
        out: list[bytes | None] = []
        for key in keys:
            if self._alive(key):
                value = self._data.pop(key)
                self._expiry.pop(key, None)
                out.append(value if isinstance(value, bytes) else _b(value))
            else:
                out.append(None)
        return out

    async def expire(self, key: str, ttl: float) -> bool:
        if not self._alive(key):
            return False
        self._set_ttl(key, ttl)
        return True

    async def hset(self, key: str, mapping: Mapping[str, str | bytes | int | float], ttl: float | None = None) -> None:
        self._touch()
        if not self._alive(key):
            self._data[key] = {}
        h = self._data[key]
        for field, value in mapping.items():
            h[field] = _b(value)
        if ttl is not None:
            self._set_ttl(key, ttl)

    async def hgetall(self, key: str) -> dict[str, bytes]:
        return dict(self._data[key]) if self._alive(key) else {}

    async def hgetall_many(self, keys: Sequence[str]) -> list[dict[str, bytes]]:
        return [dict(self._data[k]) if self._alive(k) else {} for k in keys]

    async def hincr(self, key: str, field: str, amount: int = 1) -> int:
        self._touch()
        if not self._alive(key):
            self._data[key] = {}
        h = self._data[key]
        value = int(h.get(field, b"0")) + amount
        h[field] = _b(value)
        return value

    async def get_json(self, key: str) -> Any | None:
        raw = await self.get(key)
        return None if raw is None else orjson.loads(raw)

    async def set_json(self, key: str, value: Any, ttl: float | None = None) -> None:
        await self.set(key, orjson.dumps(value), ttl)

    async def set_json_if_absent(self, key: str, value: Any, ttl: float | None = None) -> bool:
        return await self.set_if_absent(key, orjson.dumps(value), ttl)

    async def close(self) -> None:
        return None
