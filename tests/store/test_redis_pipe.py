"""The pipelined connection behind the store's hot scripts, against a real Redis: replies
reach the right callers, errors and outages become store errors, it reconnects."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
import redis.asyncio as aioredis

from store import RedisStore, StoreError, StoreUnavailable
from store.redis_pipe import RedisPipe


def key(name: str) -> str:
    return f"pipe:{uuid.uuid4().hex}:{name}"


@pytest.fixture
async def pipe(redis_url):
    connection = RedisPipe.from_url(redis_url)
    assert connection is not None
    yield connection
    await connection.close()


def test_from_url_takes_plain_redis_urls_only():
    pipe = RedisPipe.from_url("redis://user:p%40ss@10.0.0.5:6380/3", timeout_s=0.5)
    assert pipe is not None
    assert (pipe.host, pipe.port, pipe.db, pipe.username, pipe.password, pipe.timeout_s) == (
        "10.0.0.5", 6380, 3, "user", "p@ss", 0.5)
    assert RedisPipe.from_url("redis://localhost").port == 6379
    for other in ("rediss://localhost:6380/0", "unix:///tmp/redis.sock", "redis://localhost/0?protocol=3",
                  "redis://localhost/notadb"):
        assert RedisPipe.from_url(other) is None, other


async def test_concurrent_calls_get_their_own_replies(pipe):
    base = key("n")
    replies = await asyncio.gather(*(pipe.call("INCRBY", f"{base}:{i}", i) for i in range(300)))
    assert replies == list(range(300))
    assert pipe.connects == 1  # one connection for all of them


async def test_a_caller_that_stops_waiting_does_not_shift_the_replies(pipe):
    base = key("c")
    await pipe.call("PING")  # connected: each call below is sent at its first step
    slow = asyncio.ensure_future(pipe.call("INCRBY", f"{base}:a", 5))
    rest = [asyncio.ensure_future(pipe.call("INCRBY", f"{base}:{i}", i)) for i in range(1, 20)]
    await asyncio.sleep(0)
    slow.cancel()  # sent, its reply still on the way
    assert await asyncio.gather(*rest) == list(range(1, 20))
    assert await pipe.call("GET", f"{base}:a") == b"5"
    with pytest.raises(asyncio.CancelledError):
        await slow


async def test_a_caller_cancelled_while_connecting_does_not_fail_the_others(pipe):
    first = asyncio.ensure_future(pipe.call("PING"))
    others = [asyncio.ensure_future(pipe.call("PING")) for _ in range(3)]
    await asyncio.sleep(0)
    first.cancel()
    assert await asyncio.gather(*others) == [b"PONG"] * 3
    assert pipe.connects == 1


async def test_error_replies_raise_and_the_connection_carries_on(pipe):
    k = key("text")
    await pipe.call("SET", k, "not a number")
    with pytest.raises(StoreError) as e:
        await pipe.call("INCRBY", k, 1)
    assert not isinstance(e.value, StoreUnavailable) and "not an integer" in str(e.value)
    assert await pipe.call("GET", k) == b"not a number"
    assert pipe.connects == 1


async def test_the_database_of_the_url_is_selected(redis_url):
    url7 = redis_url.rsplit("/", 1)[0] + "/7"
    store = RedisStore(url7)
    k = key("db")
    try:
        assert await store.incr_many([(k, 3, 60.0)]) == [3]
        other = aioredis.Redis.from_url(redis_url)  # database 0
        try:
            assert await other.get(k) is None
        finally:
            await other.aclose()
        assert await store.get_ints([k]) == [3]  # redis-py, database 7
    finally:
        await store.close()


async def test_a_killed_connection_fails_its_calls_and_the_next_call_reconnects(redis_url):
    pipe = RedisPipe.from_url(redis_url)
    admin = aioredis.Redis.from_url(redis_url)
    try:
        client_id = await pipe.call("CLIENT", "ID")
        assert await admin.client_kill_filter(_id=client_id) == 1
        outcomes = []
        for _ in range(3):
            try:
                outcomes.append(await pipe.call("PING"))
            except StoreUnavailable:
                outcomes.append("unavailable")
            if outcomes[-1] == b"PONG":
                break
        assert outcomes[-1] == b"PONG" and len(outcomes) <= 2, outcomes
        assert pipe.connects == 2
        assert await pipe.call("CLIENT", "ID") != client_id
    finally:
        await admin.aclose()
        await pipe.close()


async def test_a_stalled_server_times_out_every_waiting_call(redis_service, redis_url):
    pipe = RedisPipe.from_url(redis_url, timeout_s=0.3)
    await pipe.call("PING")
    redis_service.pause()
    try:
        started = time.monotonic()
        results = await asyncio.gather(*(pipe.call("PING") for _ in range(5)), return_exceptions=True)
        waited = time.monotonic() - started
    finally:
        redis_service.resume()
    try:
        assert all(isinstance(r, StoreUnavailable) for r in results), results
        assert 0.25 <= waited < 3.0
        assert await pipe.call("PING") == b"PONG"  # a fresh connection once it is back
        assert pipe.connects == 2
    finally:
        await pipe.close()


async def test_nothing_listening_is_unavailable_at_once():
    from tests.support.services import free_port

    pipe = RedisPipe("127.0.0.1", free_port(), timeout_s=1.0)
    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        await pipe.call("PING")
    assert time.monotonic() - started < 1.0
