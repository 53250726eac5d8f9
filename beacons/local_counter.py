"""Counting without Kafka (the embedded default): the spool is the sink, so nothing
consumes `ad-events`; this task applies the same `Counters` the Kafka consumer uses
(exact by `event_id`), so frequency caps, pacing spend and delivery counts work with no
broker.

Two sources, one count. At start it reads the spool from the checkpoint up to where the
spool ended (what an earlier process accepted: after a restart it rereads, and the
`evseen:` marks keep every event counted once within the consumer's dedup window).
From then on the intake hands it each batch of events once they are durable
(`feed`): the same dicts the intake wrote, so nothing is read back from disk or parsed
again (that was ~10 us of every beacon); it keeps only their `countable_values` (a few
hundred bytes each). Should the feed outgrow `max_feed_events` (the store down for a while),
it is dropped and counting goes back to reading the spool from where the oldest
uncounted batch's commit started, returning to the feed once caught up; the marks
absorb what both paths see.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

import orjson

from beacons.consumer import ConsumerStats, Countable, Counters, countable_values
from beacons.spool import KIND_EVENT, Position, Spool
from store import Store, StoreError
from store.cancel import cancel_and_wait

log = logging.getLogger("adgw.beacons")
_SPOOL_END = Position(2**62, 0)  # read the spool up to whatever its end is by then
_tuple_new = tuple.__new__


class LocalCounter:
    def __init__(self, spool: Spool, store: Store, *, catalog: Callable[[], Any] | None = None,
                 idle_s: float = 0.5, slice_: int = 100, pause_s: float = 0.01, gather_s: float = 0.1,
                 max_feed_events: int = 200_000) -> None:
        self._spool = spool
        self._counters = Counters(store, catalog=catalog)
        self._idle_s = idle_s
        self._slice = slice_
        self._pause_s = pause_s
        self._gather_s = gather_s
        self._position: Position = spool.checkpoint
        # reading the spool until here (the feed covers what comes after); None: feeding
        self._read_until: Position | None = spool.end
        self._feed: deque[tuple[Position, list[tuple[Any, ...]]]] = deque()  # countable_values
        self._feed_events = 0
        self._max_feed = max_feed_events
        self._task: asyncio.Task | None = None
        self.stats = ConsumerStats()

    def feed(self, start: Position, events: list[dict[str, Any]]) -> None:
        """Durable accepted events, from the intake (`BeaconIntake.on_durable`)."""
        if self._read_until == _SPOOL_END:
            return  # reading the spool to its end: it holds these
        if self._feed_events + len(events) > self._max_feed:
            log.warning("local event counting is %d events behind: counting from the spool",
                        self._feed_events + len(events))
            if self._read_until is None:  # else still catching up, from before all of these
                self._position = self._feed[0][0] if self._feed else start
            self._feed.clear()
            self._feed_events = 0
            self._read_until = _SPOOL_END
            return
        self._feed.append((start, [countable_values(e) for e in events]))
        self._feed_events += len(events)

    async def step(self) -> int:
        """Count the next slice (from the spool while catching up, else from the feed);
        returns how many records or events it took. A slice at a time on the event loop:
        this shares the loop with beacon intake, and a thousand events in one go held
        beacon answers for tens of milliseconds."""
        if self._read_until is not None:
            read = await self._step_spool(self._read_until)
            if read:
                return read
            if self._read_until == _SPOOL_END:
                log.info("local event counting caught up with the spool: back to the feed")
            self._read_until = None  # caught up: the feed from here on
        return await self._step_feed()

    async def _step_spool(self, until: Position) -> int:
        if self._position >= until:
            return 0
        records, after = self._spool.read(self._position, self._slice)
        if not records:
            return 0
        events = [orjson.loads(r.value) for r in records if r.kind == KIND_EVENT]
        if events:
            await self._counters.apply(events, self.stats)
        self._position = after  # only once counted: a store outage retries the same slice
        return len(records)

    async def _step_feed(self) -> int:
        if not self._feed:
            return 0
        events: list[Countable] = []
        taken = 0
        for _, batch in self._feed:
            if events and len(events) + len(batch) > self._slice:
                break
            events += [_tuple_new(Countable, values) for values in batch]
            taken += 1
        await self._counters.apply_countable(events, self.stats)
        # only once counted (a store outage retries the same batches), and unless the
        # feed was dropped for the spool meanwhile
        if self._read_until is None:
            for _ in range(taken):
                self._feed_events -= len(self._feed.popleft()[1])
        return len(events)

    async def _run(self) -> None:
        while True:
            try:
                await self.step()
            except StoreError as exc:
                log.warning("local event counting paused: %s", exc)
                await asyncio.sleep(self._idle_s)  # the store is away: retry at the idle pace
                continue
            # caught up: wait for more. Else pause before the next slice: an answer takes
            # several turns of the loop (claim, append, fsync, reply), and with slices
            # back to back it waited behind one at every turn (p99 3 -> 16 ms at 2,300
            # beacons/s). A slice of 100 every 10 ms still counts ~8,000 events/s.
            # "Caught up" is nothing left, not a short slice: a feed slice stops short
            # of 100 when the next intake batch would not fit, and idling then (0.5 s)
            # cut the rate to a few hundred events a second under load. Less than a
            # slice waiting: gather for `gather_s` rather than count a few events every
            # pause (each slice is a store round trip).
            if not self.behind:
                wait = self._idle_s
            elif self._read_until is not None or self._feed_events >= self._slice:
                wait = self._pause_s
            else:
                wait = self._gather_s
            await asyncio.sleep(wait)

    @property
    def behind(self) -> bool:
        """Whether anything waits to be counted (the feed, or the spool while reading it)."""
        if self._read_until is not None:
            return self._position < self._read_until
        return bool(self._feed)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="local-event-counter")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)  # one cancel can be lost in redis-py (store/cancel.py)
        with contextlib.suppress(StoreError):
            while await self.step():  # what arrived during shutdown
                pass
