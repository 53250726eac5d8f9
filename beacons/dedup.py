"""Short-window dedup at the edge, keyed by event id, fronted by an in-process cache and
an in-flight table. One store round trip per batch to claim, and one to settle that the
answer does not wait for.

The mark is a counter (`incr_many`, one script call on Redis): a claim adds 1 and owns the
event when the result is 1; making it durable adds `DONE`; failing to make it durable
subtracts 1 (the mark is undone: the next claim gets 1 again). A result between 2 and
`DONE` is a pending claim by another writer: wait up to `pending_wait_s` for it to
become done (duplicate), else take over (append again; a writer that crashed between
mark and fsync never confirms, and the consumer's exact dedup by event id absorbs the
rare double). With the store down the beacon is accepted unchecked rather than refused.

Settling rides on the next claim: the marks to confirm (or undo) queue up and go first
in the next batch's claim call, so a busy intake makes one store call per batch, not
two (each Redis call costs ~40-80 us of client CPU, a large share of a small batch). An
idle intake flushes them after `settle_delay_s`.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import NamedTuple

from store import Store, StoreError

log = logging.getLogger("adgw.beacons.dedup")

DONE = 1_000_000


class ClaimState(enum.Enum):
    NEW = "new"
    DUPLICATE = "duplicate"
    UNCHECKED = "unchecked"  # the store was unreachable
    TAKEOVER = "takeover"  # a pending mark never confirmed by its writer
    IN_FLIGHT = "in_flight"  # this process is writing it right now: await `waiter`


class Claim(NamedTuple):
    """The outcome of claiming one event id (a NamedTuple: one per beacon, see
    `beacons.validate.RawBeacon`)."""

    event_id: str
    state: ClaimState
    waiter: asyncio.Future[bool] | None = None

    @property
    def owned(self) -> bool:
        """This claim must be appended (and settled) by its caller."""
        return self.state in (ClaimState.NEW, ClaimState.UNCHECKED, ClaimState.TAKEOVER)


class Deduper:
    def __init__(self, store: Store, *, ttl_s: float = 86400.0, pending_wait_s: float = 2.0,
                 poll_s: float = 0.05, cache_size: int = 200_000, cache_ttl_s: float = 3600.0,
                 clock: Callable[[], float] = time.monotonic, prefix: str = "bdedup:",
                 settle_delay_s: float = 0.01) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self.pending_wait_s = pending_wait_s
        self.poll_s = poll_s
        self._cache_size = cache_size
        self._cache_ttl = min(cache_ttl_s, ttl_s)
        self._clock = clock
        self.prefix = prefix
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._inflight: dict[str, asyncio.Future[bool]] = {}
        self._settling: set[asyncio.Task[None]] = set()
        self.settle_delay_s = settle_delay_s
        self._unsettled: list[tuple[str, int, float | None]] = []  # mark updates not yet sent
        self._settle_timer: asyncio.TimerHandle | None = None

    def _recently_seen(self, event_id: str) -> bool:
        deadline = self._seen.get(event_id)
        if deadline is None:
            return False
        if deadline <= self._clock():
            del self._seen[event_id]
            return False
        return True

    def _remember(self, event_id: str) -> None:
        self._seen[event_id] = self._clock() + self._cache_ttl
        self._seen.move_to_end(event_id)
        while len(self._seen) > self._cache_size:
            self._seen.popitem(last=False)

    async def claim(self, event_id: str) -> Claim:
        return (await self.claim_many([event_id]))[0]

    async def claim_many(self, event_ids: Sequence[str]) -> list[Claim]:
        claims: dict[int, Claim] = {}
        mine: dict[str, int] = {}
        loop = asyncio.get_running_loop()
        for i, eid in enumerate(event_ids):
            if self._recently_seen(eid):
                claims[i] = Claim(eid, ClaimState.DUPLICATE)
            elif eid in self._inflight:
                claims[i] = Claim(eid, ClaimState.IN_FLIGHT, self._inflight[eid])
            else:
                self._inflight[eid] = loop.create_future()
                mine[eid] = i
        try:
            states = await self._claim_in_store(list(mine))
        except BaseException:
            for eid in mine:
                self._resolve(eid, False)
            raise
        for eid, state in states.items():
            if state is ClaimState.DUPLICATE:
                self._resolve(eid, True)
            claims[mine[eid]] = Claim(eid, state)
        return [claims[i] for i in range(len(event_ids))]

    async def _claim_in_store(self, ids: list[str]) -> dict[str, ClaimState]:
        if not ids:
            return {}
        settles = self._take_unsettled()
        try:
            # queued confirmations first: a copy claimed in this very call sees them
            values = await self.store.incr_many(settles + [(self.prefix + e, 1, self.ttl_s) for e in ids])
            del values[:len(settles)]
            states: dict[str, ClaimState] = {}
            pending: list[str] = []
            for eid, value in zip(ids, values, strict=True):
                if value == 1:
                    states[eid] = ClaimState.NEW
                elif value >= DONE:
                    states[eid] = ClaimState.DUPLICATE
                else:
                    pending.append(eid)
            deadline = self._clock() + self.pending_wait_s
            while pending:
                if self._clock() >= deadline:
                    states.update((eid, ClaimState.TAKEOVER) for eid in pending)
                    break
                await asyncio.sleep(self.poll_s)
                values = await self.store.get_ints([self.prefix + e for e in pending])
                still = []
                for eid, value in zip(pending, values, strict=True):
                    if value >= DONE:
                        states[eid] = ClaimState.DUPLICATE
                    else:
                        still.append(eid)
                pending = still
            return states
        except StoreError as exc:
            log.warning("dedup store unavailable, accepting unchecked: %s (%d mark updates lost)", exc,
                        len(settles))
            return dict.fromkeys(ids, ClaimState.UNCHECKED)

    def _resolve(self, event_id: str, durable: bool) -> None:
        fut = self._inflight.pop(event_id, None)
        if durable:
            self._remember(event_id)
        if fut is not None and not fut.done():
            fut.set_result(durable)

    def settle_soon(self, claims: Sequence[Claim], durable: bool) -> None:
        """`settle` without waiting for the store: this process knows the outcome at once
        (its cache and in-flight table), and the answer to the beacon does not depend on
        the shared mark, so the round trip leaves the answer's path. Until it lands, a
        copy at another instance sees a pending mark and waits for it (see `claim_many`).
        `drain` waits for what is still under way."""
        owned = [c for c in claims if c.owned]
        for c in owned:
            self._resolve(c.event_id, durable)
        ops = self._mark_ops(owned, durable)
        if ops:
            self._unsettled += ops
            if self._settle_timer is None:
                self._settle_timer = asyncio.get_running_loop().call_later(self.settle_delay_s, self._flush_unsettled)

    def _take_unsettled(self) -> list[tuple[str, int, float | None]]:
        if self._settle_timer is not None:
            self._settle_timer.cancel()
            self._settle_timer = None
        ops, self._unsettled = self._unsettled, []
        return ops

    def _flush_unsettled(self) -> None:
        ops = self._take_unsettled()
        if ops:
            task = asyncio.get_running_loop().create_task(self._update_marks(ops))
            self._settling.add(task)
            task.add_done_callback(self._settling.discard)

    async def drain(self) -> None:
        self._flush_unsettled()
        while self._settling:
            await asyncio.gather(*self._settling, return_exceptions=True)

    def _mark_ops(self, owned: Sequence[Claim], durable: bool) -> list[tuple[str, int, float | None]]:
        if durable:
            return [(self.prefix + c.event_id, DONE, self.ttl_s) for c in owned
                    if c.state is not ClaimState.UNCHECKED]
        return [(self.prefix + c.event_id, -1, None) for c in owned if c.state is ClaimState.NEW]

    async def _update_marks(self, ops: list[tuple[str, int, float | None]]) -> None:
        try:
            await self.store.incr_many(ops)
        except StoreError as exc:
            # a confirmation lost here only costs a possible duplicate on the topic
            log.warning("dedup mark update failed: %s", exc)
