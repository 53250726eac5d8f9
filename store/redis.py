"""Redis store (redis.asyncio; the hot scripts through `redis_pipe`). Batch methods
pipeline; connection failures become `StoreUnavailable` so callers can degrade instead
of failing the request."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from store.base import StoreError, StoreUnavailable
from store.redis_pipe import RedisPipe

# The batch forms: one EVALSHA per chunk instead of one command per key, and the chunk
# sent as a single JSON argument the script decodes (cjson is built into Redis's Lua).
# The client's cost per command and per argument (packing, encoding, parsing) was most
# of a beacon's CPU; inside the script a key costs microseconds. Amounts and TTLs travel
# as strings so no number passes through Lua's doubles. A chunk runs atomically, so it
# is kept small enough not to stall the server for others. The keys are not declared
# as KEYS, so this needs a single Redis instance (not Cluster), which is what the
# gateway supports.
# INCRBY, then the TTL only when the key is new (PEXPIRE NX needs Redis 7; this works on
# 6 too and keeps the two steps atomic)
_INCR_MANY = """
local ops = cjson.decode(ARGV[1])
local out = {}
for i, op in ipairs(ops) do
  local key, ttl = op[1], op[3]
  out[i] = redis.call('INCRBY', key, op[2])
  if ttl ~= '' and redis.call('PTTL', key) == -1 then
    redis.call('PEXPIRE', key, ttl)
  end
end
return out
"""

_POP_MANY = """
local keys = cjson.decode(ARGV[1])
local out = {}
for i, key in ipairs(keys) do
  local v = redis.call('GET', key)
  if v then
    redis.call('DEL', key)
  end
  out[i] = v
end
return out
"""

CHUNK = 1000


def _ms(ttl: float | None) -> str:
    return "" if ttl is None else str(max(1, int(ttl * 1000)))


def _translate(fn):
    @functools.wraps(fn)
    async def wrapper(*args, **kwargs):
        try:
            return await fn(*args, **kwargs)
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise StoreUnavailable(f"redis unavailable: {exc}") from exc
        except RedisError as exc:
            raise StoreError(f"redis error: {exc}") from exc

    return wrapper


class RedisStore:
    name = "redis"

    def __init__(self, url: str, *, socket_timeout: float = 1.0, max_connections: int = 64) -> None:
        self._client = aioredis.Redis.from_url(
            url,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_timeout,
            max_connections=max_connections,
            retry_on_timeout=False,
            health_check_interval=5,
        )
        # the scripts run on every beacon batch: through a lean pipelined connection
        # where the URL allows (store/redis_pipe.py says why), else redis-py's Script
        # objects; both load the script again when the server has lost its script cache
        self._pipe = RedisPipe.from_url(url, timeout_s=socket_timeout)
        self._scripts = {source: self._client.register_script(source) for source in (_INCR_MANY, _POP_MANY)}

    async def _script(self, source: str, blob: bytes) -> Any:
        if self._pipe is not None:
            return await self._pipe.evalsha(source, blob)
        return await self._scripts[source](keys=(), args=(blob,))

    @property
    def client(self) -> aioredis.Redis:
        return self._client

    @_translate
    async def ping(self) -> bool:
        return bool(await self._client.ping())

    @_translate
    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        if ttl is None:
            return int(await self._client.incrby(key, amount))
        return (await self.incr_many([(key, amount, ttl)]))[0]

    @_translate
    async def incr_many(self, ops: Sequence[tuple[str, int, float | None]]) -> list[int]:
        out: list[int] = []
        for at in range(0, len(ops), CHUNK):  # in order: a key repeated across chunks adds up in sequence
            blob = orjson.dumps([(k, str(int(amount)), _ms(ttl)) for k, amount, ttl in ops[at:at + CHUNK]])
            out += await self._script(_INCR_MANY, blob)
        return out

    @_translate
    async def get_ints(self, keys: Sequence[str]) -> list[int]:
        if not keys:
            return []
        # on the pipe too where it can: the counters read by every ad decision, the
        # event counter's marks and the dedup poll
        values = await (self._pipe.call("MGET", *keys) if self._pipe is not None else self._client.mget(list(keys)))
        return [int(v) if v is not None else 0 for v in values]

    @_translate
    async def set_if_absent(self, key: str, value: str | bytes, ttl: float | None = None) -> bool:
        px = None if ttl is None else max(1, int(ttl * 1000))
        return bool(await self._client.set(key, value, nx=True, px=px))

    @_translate
    async def get(self, key: str) -> bytes | None:
        return await self._client.get(key)

    @_translate
    async def set(self, key: str, value: str | bytes, ttl: float | None = None) -> None:
        px = None if ttl is None else max(1, int(ttl * 1000))
        await self._client.set(key, value, px=px)

    @_translate
    async def delete(self, *keys: str) -> int:
        return int(await self._client.delete(*keys)) if keys else 0

    @_translate
    async def pop_many(self, keys: Sequence[str]) -> list[bytes | None]:
        out: list[bytes | None] = []
        for at in range(0, len(keys), CHUNK):
            blob = orjson.dumps(list(keys[at:at + CHUNK]))
            out += await self._script(_POP_MANY, blob)
        return out

    @_translate
    async def expire(self, key: str, ttl: float) -> bool:
        return bool(await self._client.pexpire(key, max(1, int(ttl * 1000))))

    @_translate
    async def hset(self, key: str, mapping: Mapping[str, str | bytes | int | float], ttl: float | None = None) -> None:
        if ttl is None:
            await self._client.hset(key, mapping=dict(mapping))
            return
        pipe = self._client.pipeline(transaction=True)
        pipe.hset(key, mapping=dict(mapping))
        pipe.pexpire(key, max(1, int(ttl * 1000)))
        await pipe.execute()

    @_translate
    async def hgetall(self, key: str) -> dict[str, bytes]:
        raw = await self._client.hgetall(key)
        return {k.decode(): v for k, v in raw.items()}

    @_translate
    async def hgetall_many(self, keys: Sequence[str]) -> list[dict[str, bytes]]:
        if not keys:
            return []
        pipe = self._client.pipeline(transaction=False)
        for key in keys:
            pipe.hgetall(key)
        return [{k.decode(): v for k, v in raw.items()} for raw in await pipe.execute()]

    @_translate
    async def hincr(self, key: str, field: str, amount: int = 1) -> int:
        return int(await self._client.hincrby(key, field, amount))

    async def get_json(self, key: str) -> Any | None:
        raw = await self.get(key)
        return None if raw is None else orjson.loads(raw)

    async def set_json(self, key: str, value: Any, ttl: float | None = None) -> None:
        await self.set(key, orjson.dumps(value), ttl)

    async def set_json_if_absent(self, key: str, value: Any, ttl: float | None = None) -> bool:
        return await self.set_if_absent(key, orjson.dumps(value), ttl)

    async def close(self) -> None:
        if self._pipe is not None:
            await self._pipe.close()
        await self._client.aclose()
