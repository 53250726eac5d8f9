"""Shared state behind one interface: counters with TTL, set-if-absent, hashes, JSON documents.

Every package that needs state shared across gateway instances (frequency caps, pacing
spend, beacon dedup, SSAI sessions, online features) talks to a `Store`. The embedded
default is `MemoryStore`; production uses `RedisStore`. Both pass one contract suite
(tests/store/test_contract.py).
"""

from store.base import Store, StoreError, StoreUnavailable
from store.memory import MemoryStore
from store.redis import RedisStore

__all__ = ["Store", "StoreError", "StoreUnavailable", "MemoryStore", "RedisStore", "open_store"]


def open_store(url: str | None, **kwargs) -> Store:
    """A Redis store for a `redis://` URL, else the in-process memory store."""
    if url:
        return RedisStore(url, **kwargs)
    return MemoryStore(**kwargs)
