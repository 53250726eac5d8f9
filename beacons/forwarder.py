"""Spool → Kafka. Reads records from the spool checkpoint, produces them (acks=all,
key = imp id, lz4, batched) and advances the checkpoint only after every record of the
batch is acknowledged. A failed batch is resent whole (the consumer's exact dedup by
event id absorbs the copies that did land), so every spooled record reaches Kafka at
least once through broker outages and restarts.

Idempotence stays off: the test broker (Tansu) refuses InitProducerId, and the
application-level resend is what keeps delivery at least once anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.codec import has_lz4

from beacons import metrics
from beacons.spool import KIND_EVENT, Spool, SpoolRecord
from store.cancel import cancel_and_wait

log = logging.getLogger("adgw.beacons.forwarder")


def default_producer(bootstrap: str, *, client_id: str, request_timeout_s: float, linger_ms: int,
                     compression: str | None) -> AIOKafkaProducer:
    if compression == "lz4" and not has_lz4():
        log.warning("lz4 codec unavailable (install cramjam / aiokafka[lz4]); producing uncompressed")
        compression = None
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap, client_id=client_id, acks="all", enable_idempotence=False,
        compression_type=compression, linger_ms=linger_ms, max_batch_size=512 * 1024,
        request_timeout_ms=int(request_timeout_s * 1000), retry_backoff_ms=200,
        metadata_max_age_ms=30_000,
    )


class _Batch:
    """Records read from the spool and which of them the broker acknowledged."""

    def __init__(self, records: list[SpoolRecord], next_pos: Any) -> None:
        self.records = records
        self.next_pos = next_pos
        self.acked = [False] * len(records)

    def unacked(self) -> list[int]:
        return [i for i, ok in enumerate(self.acked) if not ok]

    def ack_callback(self, i: int) -> Callable[[asyncio.Future[Any]], None]:
        def done(fut: asyncio.Future[Any]) -> None:
            if not fut.cancelled() and fut.exception() is None:
                self.acked[i] = True

        return done


class Forwarder:
    def __init__(self, spool: Spool, bootstrap: str, *, topic: str = "ad-events",
                 invalid_topic: str = "ad-events-invalid", batch_records: int = 250,
                 probe_records: int = 10,
                 request_timeout_s: float = 5.0, linger_ms: int = 5, compression: str | None = "lz4",
                 backoff_s: tuple[float, float] = (0.1, 5.0), client_id: str = "adgw-forwarder",
                 producer_factory: Callable[[], Any] | None = None,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.spool = spool
        self.topic = topic
        self.invalid_topic = invalid_topic
        self.batch_records = batch_records
        self.probe_records = probe_records
        self.request_timeout_s = request_timeout_s
        self.backoff_s = backoff_s
        self._factory = producer_factory or (lambda: default_producer(
            bootstrap, client_id=client_id, request_timeout_s=request_timeout_s, linger_ms=linger_ms,
            compression=compression))
        self._wall = wall_clock
        self._producer: Any = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.connected = False
        self.last_error: str | None = None
        self.acknowledged = 0

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="spool-forwarder")

    async def stop(self, drain_timeout_s: float = 5.0) -> None:
        """Give the forwarder `drain_timeout_s` to empty the spool, then stop. What is not
        acknowledged stays in the spool for the next start."""
        if self._task is None:
            return
        if drain_timeout_s > 0:
            await self.drain(drain_timeout_s)
        self._stopping = True
        self.spool.data_ready.set()
        await cancel_and_wait(self._task)
        self._task = None
        await self._close_producer()

    async def drain(self, timeout_s: float) -> bool:
        """Wait until everything durable in the spool is acknowledged (True) or timeout."""
        deadline = time.monotonic() + timeout_s
        while self.spool.depth_bytes > 0:
            if time.monotonic() >= deadline or self._task is None or self._task.done():
                return False
            await asyncio.sleep(0.02)
        return True

    @property
    def lag_bytes(self) -> int:
        return self.spool.depth_bytes

    async def _close_producer(self) -> None:
        producer, self._producer = self._producer, None
        self.connected = False
        if producer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), self.request_timeout_s)

    async def _connect(self, delay: float) -> bool:
        producer = self._factory()
        try:
            await asyncio.wait_for(producer.start(), self.request_timeout_s * 2)
        except Exception as exc:  # noqa: BLE001 - any failure: the spool keeps the events
            self.last_error = f"connect: {type(exc).__name__}: {exc}"[:300]
            log.warning("kafka unavailable, events stay in the spool: %s", self.last_error)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), 1.0)
            await asyncio.sleep(delay)
            return False
        self._producer = producer
        self.connected = True
        return True

    async def _run(self) -> None:
        pos = self.spool.checkpoint
        delay = self.backoff_s[0]
        batch: _Batch | None = None
        probing = False
        while not self._stopping:
            if self._producer is None:
                if not await self._connect(delay):
                    delay = min(delay * 2, self.backoff_s[1])
                    continue
            if batch is None:
                self.spool.data_ready.clear()
                # read on the loop, a batch at a time (under a millisecond): a reader
                # thread's GIL handoffs delayed beacon answers more than the read itself
                records, next_pos = self.spool.read(pos, self.batch_records)
                if not records:
                    if next_pos > pos:  # skipped an unreadable tail
                        await self.spool.commit(next_pos)
                        pos = next_pos
                        continue
                    await self.spool.data_ready.wait()
                    continue
                batch = _Batch(records, next_pos)
            todo = batch.unacked()
            if probing:
                # the broker just failed us: resend a few records until one batch lands,
                # not thousands that a frozen broker would append twice on waking
                todo = todo[:self.probe_records]
            try:
                await self._send(batch, todo)
            except Exception as exc:  # noqa: BLE001 - unacknowledged records are resent
                metrics.PRODUCE_FAILURES.inc()
                self.connected = False
                probing = True
                self.last_error = f"produce: {type(exc).__name__}: {exc}"[:300]
                log.warning("produce failed, resending unacknowledged records: %s", self.last_error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff_s[1])
                continue
            probing = False
            delay = self.backoff_s[0]
            self.connected = True
            if batch.unacked():
                continue
            await self.spool.commit(batch.next_pos)
            pos = batch.next_pos
            self._observe(batch.records)
            batch = None

    async def _send(self, batch: _Batch, todo: list[int]) -> None:
        futures = []
        async with asyncio.timeout(self.request_timeout_s * 2):  # send() blocks on a full buffer
            for n, i in enumerate(todo):
                if n and not n % 64:
                    # send() rarely suspends; a thousand in a row would hold the event loop
                    # (and every beacon answer waiting on it) for tens of milliseconds
                    await asyncio.sleep(0)
                record = batch.records[i]
                topic = self.topic if record.kind == KIND_EVENT else self.invalid_topic
                fut = await self._producer.send(topic, record.value, key=record.key)
                # an acknowledgement counts even when it arrives after we stopped waiting
                fut.add_done_callback(batch.ack_callback(i))
                futures.append(fut)
        done, pending = await asyncio.wait(futures, timeout=self.request_timeout_s * 3)
        for fut in done:
            if fut.exception() is not None:
                raise fut.exception()  # type: ignore[misc]
        if pending:
            raise TimeoutError(f"{len(pending)} records not acknowledged in time")

    def _observe(self, records: list[SpoolRecord]) -> None:
        now_ms = self._wall() * 1000
        events = 0
        for record in records:
            if record.kind == KIND_EVENT:
                events += 1
                if record.received_ms:
                    metrics.DELIVERY_LATENCY.observe(max(0.0, now_ms - record.received_ms) / 1000)
        self.acknowledged += len(records)
        if events:
            metrics.PRODUCED.labels(self.topic).inc(events)
        if len(records) - events:
            metrics.PRODUCED.labels(self.invalid_topic).inc(len(records) - events)
