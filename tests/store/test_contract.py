"""One contract suite for every Store implementation (memory and a real Redis)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from store import MemoryStore, RedisStore, Store, StoreUnavailable


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "redis", "redis-py"])
async def store(request) -> Store:
    if request.param == "memory":
        s: Store = MemoryStore()
    elif request.param == "redis":
        s = RedisStore(request.getfixturevalue("redis_url"))
        assert s._pipe is not None  # the scripts through the pipelined connection
    else:
        # a URL with query options stays with redis-py for the scripts too
        s = RedisStore(request.getfixturevalue("redis_url") + "?health_check_interval=5")
        assert s._pipe is None
    yield s
    await s.close()


def k(name: str) -> str:
    return f"t:{uuid.uuid4().hex}:{name}"


async def test_is_a_store(store):
    assert isinstance(store, Store)
    assert await store.ping()


async def test_counters(store):
    key = k("c")
    assert await store.incr(key) == 1
    assert await store.incr(key, 4) == 5
    assert await store.incr(key, -2) == 3
    assert await store.get_ints([key, k("missing")]) == [3, 0]
    a, b = k("a"), k("b")
    assert await store.incr_many([(a, 2, None), (b, 3, 60), (a, 1, 60)]) == [2, 3, 3]


async def test_incr_many_in_order_across_chunks(store):
    a, b = k("a"), k("b")
    ops = [(a, 1, 60) if i % 2 else (b, 2, None) for i in range(2500)]  # more than one Redis chunk
    values = await store.incr_many(ops)
    assert values[-2:] == [2500, 1250] and values[:2] == [2, 1]
    assert await store.get_ints([a, b]) == [1250, 2500]


@pytest.mark.parametrize("query", ["", "?health_check_interval=5"], ids=["pipe", "redis-py"])
async def test_redis_batches_survive_a_script_cache_flush(redis_url, query):
    s = RedisStore(redis_url + query)
    try:
        key, marker = k("c"), k("m")
        assert await s.incr_many([(key, 1, 60)]) == [1]
        await s.set(marker, b"x")
        await s.client.script_flush()  # a restarted or failed-over server forgets scripts
        assert await s.incr_many([(key, 1, 60)]) == [2]
        assert await s.pop_many([marker]) == [b"x"]
    finally:
        await s.close()


async def test_pop_many(store):
    a, b, c = k("a"), k("b"), k("c")
    await store.set(a, b"one")
    await store.set(c, "three", ttl=0.2)
    assert await store.pop_many([a, b, a, c]) == [b"one", None, None, b"three"]
    assert await store.get(a) is None and await store.get(c) is None
    assert await store.pop_many([]) == []
    await store.set(c, b"again", ttl=0.1)
    await asyncio.sleep(0.25)
    assert await store.pop_many([c]) == [None]  # an expired key is gone, not popped


async def test_pop_many_gives_each_value_once_under_concurrency(store):
    keys = [k(f"p{i}") for i in range(50)]
    for key in keys:
        await store.set(key, key)
    results = await asyncio.gather(*(store.pop_many(keys[i % 5:] + keys[:i % 5]) for i in range(20)))
    popped = [v for result in results for v in result if v is not None]
    assert sorted(popped) == sorted(key.encode() for key in keys)


async def test_counter_ttl_expires(store):
    key = k("ttl")
    await store.incr(key, 1, ttl=0.2)
    await store.incr(key, 1, ttl=100)  # an existing key keeps its first expiry
    assert await store.get_ints([key]) == [2]
    await asyncio.sleep(0.35)
    assert await store.get_ints([key]) == [0]


async def test_set_if_absent(store):
    key = k("nx")
    assert await store.set_if_absent(key, "first", ttl=5)
    assert not await store.set_if_absent(key, "second", ttl=5)
    assert await store.get(key) == b"first"
    assert await store.delete(key) == 1
    assert await store.set_if_absent(key, b"again")
    assert await store.get(key) == b"again"


async def test_set_if_absent_is_atomic_under_concurrency(store):
    key = k("race")
    wins = await asyncio.gather(*(store.set_if_absent(key, str(i), ttl=5) for i in range(50)))
    assert sum(wins) == 1


async def test_set_and_expire(store):
    key = k("v")
    await store.set(key, "x", ttl=0.2)
    assert await store.get(key) == b"x"
    assert await store.expire(key, 10)
    await asyncio.sleep(0.3)
    assert await store.get(key) == b"x"
    assert not await store.expire(k("none"), 1)


async def test_hashes(store):
    key = k("h")
    await store.hset(key, {"a": "1", "b": 2, "c": b"x"})
    assert await store.hgetall(key) == {"a": b"1", "b": b"2", "c": b"x"}
    assert await store.hincr(key, "b", 5) == 7
    other = k("h2")
    assert await store.hgetall_many([key, other]) == [{"a": b"1", "b": b"7", "c": b"x"}, {}]


async def test_json_documents(store):
    key = k("j")
    doc = {"breaks": [{"id": "b1", "ads": ["x", "y"]}], "n": 3}
    assert await store.get_json(key) is None
    assert await store.set_json_if_absent(key, doc, ttl=5)
    assert not await store.set_json_if_absent(key, {"other": 1}, ttl=5)
    assert await store.get_json(key) == doc
    await store.set_json(key, {"n": 4})
    assert await store.get_json(key) == {"n": 4}


async def test_memory_store_expiry_follows_injected_clock():
    clock = FakeClock()
    s = MemoryStore(clock=clock)
    await s.incr("c", 1, ttl=10)
    clock.now += 9.9
    assert await s.get_ints(["c"]) == [1]
    clock.now += 0.2
    assert await s.get_ints(["c"]) == [0]


async def test_redis_outage_raises_store_unavailable():
    s = RedisStore("redis://127.0.0.1:1/0", socket_timeout=0.2)
    with pytest.raises(StoreUnavailable):
        await s.incr("x")
    await s.close()


async def test_memory_store_sweeps_expired_keys_without_touching_live_ones():
    clock = FakeClock()
    s = MemoryStore(clock=clock, sweep_every=16)
    for i in range(100):
        await s.set(f"short:{i}", "x", ttl=1)
        await s.set(f"long:{i}", "x", ttl=100)
    await s.expire("short:0", 1000)  # a changed TTL leaves a stale heap entry behind
    clock.now += 2
    for i in range(32):
        await s.incr(f"touch:{i}")  # writes trigger the sweep
    assert not any(k.startswith("short:") and k != "short:0" for k in s._data)
    assert await s.get("short:0") == b"x"
    assert [await s.get(f"long:{i}") for i in range(100)] == [b"x"] * 100
