"""Durable local spool: the promise behind a `204` when Kafka is slow or away.

Layout: `DIR/seg-<n>.log` segment files of records `[u32 length][u32 crc32][body]`,
body = `[u8 kind][u64 received_ms][u16 key length][key][value]`; `DIR/checkpoint`
(the position up to which the forwarder has broker acknowledgements, replaced
atomically); `DIR/LOCK` (flock: one process per spool directory).

Appends are group-committed: whatever accumulates while one write+fdatasync runs goes
into the next, so `append` returns only after its bytes are on disk. Commits start at
most every `commit_interval_s` (1 ms), stretching to 3 ms as the process nears a full
core (`busy`): each commit costs an fdatasync, a thread hand-off and the dedup claim of
its batch however few beacons it carries, and back-to-back commits of one or two
beacons each spent most of a core on them under load. An idle spool commits at once.
Each open starts a new segment, so older segments are sealed; a torn tail left by a
crash fails its CRC and ends its segment.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import queue
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import orjson

from beacons import metrics
from beacons.errors import SpoolError, SpoolFull, SpoolLocked

log = logging.getLogger("adgw.beacons.spool")

KIND_EVENT = 0
KIND_INVALID = 1
_HEAD = struct.Struct(">II")
_BODY = struct.Struct(">BQH")
_MAX_RECORD = 1 << 20


@dataclass(frozen=True, slots=True, order=True)
class Position:
    segment: int
    offset: int


class SpoolRecord(NamedTuple):
    """One record (a NamedTuple: one per beacon, see `beacons.validate.RawBeacon`)."""

    kind: int
    key: bytes
    value: bytes
    received_ms: int = 0

    def encode(self) -> bytes:
        body = _BODY.pack(self.kind, self.received_ms, len(self.key)) + self.key + self.value
        return _HEAD.pack(len(body), zlib.crc32(body)) + body


def _decode(body: bytes) -> SpoolRecord:
    kind, received_ms, klen = _BODY.unpack_from(body)
    start = _BODY.size
    return SpoolRecord(kind, body[start:start + klen], body[start + klen:], received_ms)


def _seg_name(n: int) -> str:
    return f"seg-{n:012d}.log"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    def __init__(self, directory: str | os.PathLike[str], *, max_bytes: int = 1 << 30,
                 segment_bytes: int = 64 << 20, commit_interval_s: float = 0.001, checkpoint_every_s: float = 0.2,
                 checkpoint_every_bytes: int = 256 << 10, busy: Callable[[], float] | None = None,
                 busy_commit_interval_s: float = 0.003) -> None:
        self.dir = Path(directory)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self.commit_interval_s = commit_interval_s
        # Under load the interval stretches toward `busy_commit_interval_s`: `busy()` says
        # how much of a core the process used lately (ProcessLoad). Each commit costs a
        # claim round trip, a thread hand-off and several wake-ups; with one beacon per
        # commit, at half the sustained rate, a beacon cost twice its CPU at full load and
        # the server ran near saturation, its p99 set by queueing. Idle or light, commits
        # still start at once / every `commit_interval_s`.
        self.busy = busy
        self.busy_commit_interval_s = max(commit_interval_s, busy_commit_interval_s)
        self._commit_started = float("-inf")
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="spool")
        # group commits go to a writer thread of their own through a plain queue: the
        # executor's future chaining cost ~16 us more per commit, and at moderate rates
        # a commit carries two or three beacons
        self._writes: queue.SimpleQueue[tuple[Position, list[asyncio.Future[Position]], bytes] | None] = (
            queue.SimpleQueue())
        self._writer: threading.Thread | None = None
        # checkpoints on a thread of their own: two fsyncs queued ahead of a group commit
        # would hold every beacon answer waiting for it
        self._checkpoint_io = ThreadPoolExecutor(1, thread_name_prefix="spool-checkpoint")
        self.checkpoint_every_s = checkpoint_every_s
        self.checkpoint_every_bytes = checkpoint_every_bytes
        self._persisted = Position(0, 0)
        self._persisted_at = float("-inf")  # the first commit writes
        self._lock_fd: int | None = None
        self._active: int = 0
        self._w_active = 0
        self._w_size = 0
        self._fd: int | None = None
        self._sizes: dict[int, int] = {}  # durable bytes per segment
        self._checkpoint = Position(0, 0)
        self._pending: list[tuple[bytes, asyncio.Future[Position]]] = []
        self._on_taken: list[Callable[[], None]] = []
        self._pending_bytes = 0
        # the commit cycle runs on callbacks (append -> timer or at once -> writer thread
        # -> _committed), not a task: a task woken by an Event, a sleep and a future cost
        # ~40 us of Python per commit, and at moderate rates a commit carries one or two
        # beacons
        self._loop: asyncio.AbstractEventLoop | None = None
        self._in_commit = False
        self._timer: asyncio.TimerHandle | None = None
        self._drained: asyncio.Future[None] | None = None
        self.data_ready = asyncio.Event()  # set whenever new durable records exist
        self._closing = False
        self.corrupt_records = 0
        self.syncs = 0  # group commits done (one fdatasync each)

    # lifecycle ------------------------------------------------------------
    async def open(self) -> Spool:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._open_sync)
        self._loop = loop
        self._writer = threading.Thread(target=self._writer_main, args=(loop,), name="spool-writer", daemon=True)
        self._writer.start()
        self._publish_depth()
        if self.depth_bytes:
            self.data_ready.set()
        return self

    def _open_sync(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.dir / "LOCK", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SpoolLocked(f"{self.dir} is used by another process") from None
        self._lock_fd = fd
        try:
            cp = orjson.loads((self.dir / "checkpoint").read_bytes())
            self._checkpoint = Position(int(cp["segment"]), int(cp["offset"]))
        except FileNotFoundError:
            pass
        self._persisted = self._checkpoint
        for path in sorted(self.dir.glob("seg-*.log")):
            n = int(path.stem[4:])
            if n < self._checkpoint.segment:
                path.unlink()
                continue
            self._sizes[n] = path.stat().st_size
        self._active = max([*self._sizes, self._checkpoint.segment, 0]) + 1
        self._open_segment(self._active)
        self._sizes[self._active] = 0

    def _open_segment(self, n: int) -> None:
        # writer thread only; `_w_*` is its state, `_sizes`/`_active` the loop's view
        if self._fd is not None:
            os.close(self._fd)
        self._fd = os.open(self.dir / _seg_name(n), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._w_active, self._w_size = n, 0
        _fsync_dir(self.dir)

    async def close(self) -> None:
        self._closing = True
        if self._timer is not None:  # closing: what is queued goes now
            self._timer.cancel()
            self._timer = None
        loop = asyncio.get_running_loop()
        while self._in_commit or (self._pending and self._writer is not None):
            if not self._in_commit:
                self._start_commit()
            self._drained = loop.create_future()
            await self._drained
        if self._checkpoint > self._persisted:
            await self._persist([])
        if self._writer is not None:
            self._writes.put(None)
            await loop.run_in_executor(self._executor, self._writer.join)
        await loop.run_in_executor(self._executor, self._close_sync)
        self._writer = None
        self._executor.shutdown(wait=True)
        self._checkpoint_io.shutdown(wait=True)

    def _close_sync(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # writing --------------------------------------------------------------
    @property
    def depth_bytes(self) -> int:
        """Durable bytes not yet acknowledged by the broker."""
        cp = self._checkpoint
        return sum(size for n, size in self._sizes.items() if n >= cp.segment) - (
            cp.offset if cp.segment in self._sizes else 0)

    async def append(self, records: Sequence[SpoolRecord], *,
                     on_taken: Callable[[], None] | None = None) -> Position | None:
        """Returns once every record is fsynced; SpoolFull past the size cap. The result
        is where the commit that carried them starts: reading from there finds them (and
        perhaps others of the same commit first); None when there was nothing to write.
        `on_taken` is called once these records leave the queue for a commit (or at
        once, when nothing is queued): a producer that waits for it before preparing its
        next batch hands the spool one batch per commit. A caller that stops waiting
        does not withdraw its records: they are written all the same."""
        try:
            if self._closing or self._writer is None:
                raise SpoolError("spool is closed")
            blob = b"".join(r.encode() for r in records)
            if self.depth_bytes + self._pending_bytes + len(blob) > self.max_bytes:
                raise SpoolFull(f"spool holds {self.depth_bytes} bytes (cap {self.max_bytes})")
        except BaseException:
            if on_taken is not None:
                on_taken()
            raise
        if not blob:
            if on_taken is not None:
                on_taken()
            return None
        loop = self._loop
        assert loop is not None
        fut: asyncio.Future[Position] = loop.create_future()
        self._pending.append((blob, fut))
        self._pending_bytes += len(blob)
        if on_taken is not None:
            self._on_taken.append(on_taken)
        if not self._in_commit and self._timer is None:
            self._schedule_commit(loop)
        start = await fut
        metrics.SPOOLED.inc(len(records))
        return start

    def interval_s(self) -> float:
        """The pause between commit starts now: `commit_interval_s` up to half a core
        busy, stretching linearly to `busy_commit_interval_s` at a full core. Measured
        here at half the sustained rate (85-95% busy): 2-3 ms gave the best p99 (18 ms
        against 20-70 ms at 1 ms and 21-30 ms at 4 ms); 4 ms the best rate at full load."""
        low = self.commit_interval_s
        if self.busy is None:
            return low
        share = min(1.0, max(0.0, (self.busy() - 0.5) / 0.5))
        return low + (self.busy_commit_interval_s - low) * share

    def next_commit_in(self) -> float:
        """Seconds until the next commit may start (<= 0: now). A commit still being
        written when it comes due starts once that one is done."""
        if self._loop is None:
            return 0.0
        return self._commit_started + self.interval_s() - self._loop.time()

    def _schedule_commit(self, loop: asyncio.AbstractEventLoop) -> None:
        delay = self.next_commit_in()
        if delay > 0:
            self._timer = loop.call_later(delay, self._start_commit)
        else:
            self._start_commit()

    def _start_commit(self) -> None:
        self._timer = None
        if self._in_commit or not self._pending:
            return
        loop = self._loop
        assert loop is not None
        self._in_commit = True
        self._commit_started = loop.time()
        batch, self._pending, self._pending_bytes = self._pending, [], 0
        taken, self._on_taken = self._on_taken, []
        self._writes.put((self.end, [fut for _, fut in batch], b"".join(b for b, _ in batch)))
        for callback in taken:
            callback()

    def _committed(self, start: Position, futs: list[asyncio.Future[Position]],
                   result: tuple[int, int] | None, exc: BaseException | None) -> None:
        """On the loop, once the writer thread has written and fsynced a commit."""
        self._in_commit = False
        if exc is not None:
            log.error("spool write failed: %s", exc)
            reason = exc.strerror if isinstance(exc, OSError) else repr(exc)
            for fut in futs:
                if not fut.done():
                    fut.set_exception(SpoolError(f"spool write failed: {reason}"))
        else:
            assert result is not None
            seg, size = result
            self._sizes[seg] = size
            self._active = seg
            for fut in futs:
                if not fut.done():
                    fut.set_result(start)
            self._publish_depth()
            self.data_ready.set()
        if self._pending and self._timer is None:
            if self._closing:
                self._start_commit()
            else:
                assert self._loop is not None
                self._schedule_commit(self._loop)
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    def _writer_main(self, loop: asyncio.AbstractEventLoop) -> None:
        while (item := self._writes.get()) is not None:
            start, futs, blob = item
            try:
                result = self._write_sync(blob)
            except BaseException as exc:  # the loop decides; this thread keeps serving
                loop.call_soon_threadsafe(self._committed, start, futs, None, exc)
            else:
                loop.call_soon_threadsafe(self._committed, start, futs, result, None)

    def _write_sync(self, blob: bytes) -> tuple[int, int]:
        if self._w_size and self._w_size + len(blob) > self.segment_bytes:
            self._open_segment(self._w_active + 1)
        assert self._fd is not None
        began = time.perf_counter()
        view = memoryview(blob)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        os.fdatasync(self._fd)
        # the disk's part of every 204: a virtual disk that stalls an fdatasync for
        # 100-300 ms holds every beacon arriving meanwhile, whatever the gateway does;
        # observed here on the writer thread, off the event loop
        metrics.SPOOL_COMMIT_SECONDS.observe(time.perf_counter() - began)
        self.syncs += 1
        self._w_size += len(blob)
        return self._w_active, self._w_size

    def _publish_depth(self) -> None:
        metrics.SPOOL_DEPTH.set(self.depth_bytes)

    # reading --------------------------------------------------------------
    @property
    def checkpoint(self) -> Position:
        return self._checkpoint

    @property
    def end(self) -> Position:
        return Position(self._active, self._sizes.get(self._active, 0))

    def read(self, start: Position, max_records: int = 1000,
             max_bytes: int = 4 << 20) -> tuple[list[SpoolRecord], Position]:
        """Durable records from `start`, at most `max_records` and about `max_bytes`.
        Returns the records and the position after the last one. Sync file reads in
        chunks sized to what is asked (a small read costs little: callers on the event
        loop read a slice at a time rather than hand this to a thread, whose GIL
        handoffs cost beacon answers more than the read)."""
        out: list[SpoolRecord] = []
        pos = start
        budget = max_bytes
        want = 64 << 10
        sizes = dict(self._sizes)  # a snapshot: the loop thread updates it
        while len(out) < max_records and budget > 0:
            size = sizes.get(pos.segment)
            later = [n for n in sizes if n > pos.segment]
            if size is None or pos.offset >= size:
                if not later:
                    break
                pos = Position(min(later), 0)
                continue
            with open(self.dir / _seg_name(pos.segment), "rb") as fh:
                fh.seek(pos.offset)
                data = fh.read(min(size - pos.offset, want))
            offset = 0
            bad = False
            need = 0  # bytes the record cut by the chunk's end needs
            while offset < len(data) and len(out) < max_records:
                if len(data) - offset < _HEAD.size:
                    bad = offset == 0 and size - pos.offset < _HEAD.size
                    break
                length, crc = _HEAD.unpack_from(data, offset)
                end = offset + _HEAD.size + length
                if length > _MAX_RECORD or length < _BODY.size:
                    bad = True
                    break
                if end > len(data):
                    bad = pos.offset + end > size
                    need = end
                    break
                body = data[offset + _HEAD.size:end]
                if zlib.crc32(body) != crc:
                    bad = True
                    break
                out.append(_decode(body))
                offset = end
            if bad and offset > 0:
                bad = False  # good records first; the next pass starts at the bad one
            budget -= offset
            pos = Position(pos.segment, pos.offset + offset)
            if bad:
                # a torn or corrupt tail (crash mid-write): the rest of this sealed
                # segment is unreadable, move on to the next one
                if not later:
                    break
                self.corrupt_records += 1
                metrics.SPOOL_CORRUPT.inc()
                log.warning("spool segment %d: corrupt record at %d, skipping the rest", pos.segment, pos.offset)
                pos = Position(min(later), 0)
            elif offset == 0:
                if need > len(data):  # one record larger than the chunk: read it whole
                    want = need
                    continue
                break
        return out, pos

    def iter_all(self, start: Position | None = None) -> Iterator[SpoolRecord]:
        """Every durable record from `start` (default: the checkpoint)."""
        pos = self._checkpoint if start is None else start
        while True:
            records, pos = self.read(pos)
            if not records:
                return
            yield from records

    async def commit(self, pos: Position) -> None:
        """Everything before `pos` is acknowledged. The checkpoint file is rewritten once
        `checkpoint_every_s` have passed or `checkpoint_every_bytes` were acknowledged
        since the last write (and at once when whole segments can go, and on close), not
        after every batch: after a crash the forwarder resends from the checkpoint on
        disk, so at most that much goes to Kafka twice (at least once; the consumer's
        exact dedup absorbs the copies)."""
        if pos <= self._checkpoint:
            return
        self._checkpoint = pos
        done = [n for n in self._sizes if n < pos.segment and n != self._active]
        if (done or time.monotonic() - self._persisted_at >= self.checkpoint_every_s
                or self._bytes_between(self._persisted, pos) >= self.checkpoint_every_bytes):
            await self._persist(done)
        self._publish_depth()

    def _bytes_between(self, a: Position, b: Position) -> int:
        if a.segment == b.segment:
            return b.offset - a.offset
        return (self._sizes.get(a.segment, 0) - a.offset + b.offset
                + sum(size for n, size in self._sizes.items() if a.segment < n < b.segment))

    async def _persist(self, done: list[int]) -> None:
        pos = self._checkpoint
        await asyncio.get_running_loop().run_in_executor(self._checkpoint_io, self._commit_sync, pos, done)
        self._persisted, self._persisted_at = pos, time.monotonic()
        for n in done:
            self._sizes.pop(n, None)

    def _commit_sync(self, pos: Position, done: list[int]) -> None:
        tmp = self.dir / "checkpoint.tmp"
        with open(tmp, "wb") as fh:
            fh.write(orjson.dumps({"segment": pos.segment, "offset": pos.offset}))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.dir / "checkpoint")
        if done:  # the new checkpoint must be on disk before the segments it passed go
            _fsync_dir(self.dir)
        for n in done:
            with contextlib.suppress(FileNotFoundError):
                (self.dir / _seg_name(n)).unlink()


class ProcessLoad:
    """How much of a core this process used over the last `window_s` or so (all its
    threads: CPU time over wall time), for `Spool.busy`. Measured when asked, at most
    every `window_s`; the clocks are parameters."""

    def __init__(self, *, window_s: float = 0.1, wall: Callable[[], float] = time.monotonic,
                 cpu: Callable[[], float] = time.process_time) -> None:
        self.window_s = window_s
        self._wall = wall
        self._cpu = cpu
        self._since = (wall(), cpu())
        self.share = 0.0

    def __call__(self) -> float:
        now = self._wall()
        wall0, cpu0 = self._since
        if now - wall0 >= self.window_s:
            cpu = self._cpu()
            self.share = (cpu - cpu0) / (now - wall0)
            self._since = (now, cpu)
        return self.share
