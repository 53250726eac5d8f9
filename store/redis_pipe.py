"""One pipelined Redis connection for the store's hot calls (the dedup claim of every
beacon batch, the event counters, the counter reads of every ad decision). Commands
are packed and replies parsed by hiredis, the C library redis-py itself uses; replies
are matched to callers in order, so any number of calls share the connection without
waiting for each other.

Why not redis-py's client for these: its asyncio command path (connection pool,
retry and timeout wrappers, per-call bookkeeping) cost ~270 us of CPU per command on a
slow host against ~45 us for this, and at moderate beacon rates a dedup claim carries
one or two beacons, so that overhead was a fifth of a beacon's CPU. Everything else in
the store still goes through redis-py.

Timeouts are one timer for the connection, not one per call: when the oldest call
has waited `timeout_s`, the connection is deemed stuck and dropped, failing every call
on it with `StoreUnavailable` (what redis-py's socket timeout does); the next call
connects again.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import deque
from typing import Any
from urllib.parse import unquote, urlsplit

import hiredis

from store.base import StoreError, StoreUnavailable


class RedisPipe:
    def __init__(self, host: str, port: int, *, db: int = 0, username: str | None = None,
                 password: str | None = None, timeout_s: float = 1.0) -> None:
        self.host = host
        self.port = port
        self.db = db
        self.username = username
        self.password = password
        self.timeout_s = timeout_s
        self._transport: asyncio.Transport | None = None
        self._protocol: _Resp | None = None
        self._connecting: asyncio.Future[None] | None = None  # the task opening a connection
        self._shas: dict[bytes, str] = {}
        self.connects = 0

    @classmethod
    def from_url(cls, url: str, *, timeout_s: float = 1.0) -> RedisPipe | None:
        """A pipe for a plain `redis://host:port/db` URL; None for anything else (TLS,
        unix sockets, query options), which stays with redis-py."""
        parts = urlsplit(url)
        if parts.scheme != "redis" or parts.query or not parts.hostname:
            return None
        path = parts.path.strip("/")
        if path and not path.isdigit():
            return None
        return cls(parts.hostname, parts.port or 6379, db=int(path or 0),
                   username=unquote(parts.username) if parts.username else None,
                   password=unquote(parts.password) if parts.password else None, timeout_s=timeout_s)

    async def call(self, *args: str | bytes | int) -> Any:
        protocol = self._protocol
        if protocol is None or protocol.lost:
            protocol = await self._connect()
        return await protocol.send(hiredis.pack_command(args))

    async def evalsha(self, script: str, *args: str | bytes | int) -> Any:
        """EVALSHA of `script` with no keys, loading it once the server says NOSCRIPT
        (a restarted or flushed Redis)."""
        body = script.encode()
        sha = self._shas.get(body)
        if sha is None:
            sha = self._shas[body] = hashlib.sha1(body).hexdigest()
        try:
            return await self.call("EVALSHA", sha, 0, *args)
        except StoreError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
        await self.call("SCRIPT", "LOAD", body)
        return await self.call("EVALSHA", sha, 0, *args)

    async def _connect(self) -> _Resp:
        # the connection is opened by a task of its own that every caller waits on: a
        # caller that stops waiting does not cancel it for the others
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._open())
            self._connecting.add_done_callback(self._connected)
        await asyncio.shield(self._connecting)
        assert self._protocol is not None
        return self._protocol

    def _connected(self, task: asyncio.Future[None]) -> None:
        self._connecting = None
        if not task.cancelled():
            task.exception()  # retrieved: the callers, if any, raise it

    async def _open(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            transport, protocol = await asyncio.wait_for(
                loop.create_connection(lambda: _Resp(loop, self.timeout_s), self.host, self.port), self.timeout_s)
        except (OSError, TimeoutError, ValueError) as exc:
            raise StoreUnavailable(f"redis unavailable: {exc!r}") from exc
        try:
            if self.password is not None:
                auth = (self.username, self.password) if self.username else (self.password,)
                await protocol.send(hiredis.pack_command(("AUTH", *auth)))
            if self.db:
                await protocol.send(hiredis.pack_command(("SELECT", self.db)))
        except BaseException:
            transport.close()
            raise
        if self._transport is not None:
            self._transport.close()
        self._transport, self._protocol = transport, protocol
        self.connects += 1

    async def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
        self._transport = self._protocol = None


class _Resp(asyncio.Protocol):
    """The connection: calls wait in order of sending, replies resolve them in order."""

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout_s: float) -> None:
        self.loop = loop
        self.timeout_s = timeout_s
        self.reader = hiredis.Reader()
        self.waiting: deque[tuple[asyncio.Future[Any], float]] = deque()
        self.transport: asyncio.Transport | None = None
        self.lost = False
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no asyncio.Transport subclass

    def send(self, command: bytes) -> asyncio.Future[Any]:
        if self.lost or self.transport is None:
            raise StoreUnavailable("redis unavailable: connection lost")
        fut = self.loop.create_future()
        deadline = self.loop.time() + self.timeout_s
        self.waiting.append((fut, deadline))
        if self.timer is None:
            self.timer = self.loop.call_at(deadline, self._check)
        self.transport.write(command)
        return fut

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        try:
            while (reply := self.reader.gets()) is not False:
                fut, _ = self.waiting.popleft()
                if fut.done():  # its caller stopped waiting
                    continue
                if isinstance(reply, hiredis.ReplyError):
                    fut.set_exception(StoreError(str(reply)))
                else:
                    fut.set_result(reply)
        except (hiredis.ProtocolError, IndexError) as exc:  # garbage, or a reply nobody asked for
            self._fail(StoreUnavailable(f"redis unavailable: protocol error {exc!r}"))

    def _check(self) -> None:
        self.timer = None
        if not self.waiting:
            return
        deadline = self.waiting[0][1]
        if deadline <= self.loop.time():
            self._fail(StoreUnavailable(f"redis unavailable: no reply within {self.timeout_s:g}s"))
        else:
            self.timer = self.loop.call_at(deadline, self._check)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(StoreUnavailable(f"redis unavailable: connection lost ({exc!r})"))

    def _fail(self, failure: StoreError) -> None:
        self.lost = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.transport is not None:
            self.transport.abort()
        while self.waiting:
            fut, _ = self.waiting.popleft()
            if not fut.done():
                fut.set_exception(failure)
