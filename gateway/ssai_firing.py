"""Server-side firing of third-party trackers for stitched ads (VAST 4.2 §2.3.6, "server-
side tracking"): when a segment fetch shows an ad reached an event, the gateway calls that
ad's own Impression and Tracking URLs on the device's behalf.

Off the response path: the segment handler only `submit`s to a bounded queue (a full queue
drops the firing, logged, rather than grow or wait); a few workers fire each URL through the
guarded fetcher (the SSRF guard applies to trackers as to tags), with the device in
`X-Device-IP` / `X-Device-User-Agent` (VAST 4.1 §4.2), macros expanded (VAST 4.1 §6), a
short timeout, and a bounded number of retries with exponential backoff on timeouts, network
errors, 5xx, 408 and 429. `claim(key)` makes each (ad instance, event) fire once however
many variants or refetches report it. `close` drains the queue briefly at shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace

from prometheus_client import Counter

import vast
from gateway.fetch import Fetcher, FetchError, FetchRefused
from store.cancel import cancel_and_wait

log = logging.getLogger("adgw.ssai.trackers")

RETRY_STATUSES = frozenset({408, 429})

# per firing (one event of one ad instance): submitted, dropped, duplicate; per tracker URL
# attempt: 2xx/3xx/4xx/5xx (status class, so the label set stays bounded), error (network,
# timeout), refused (SSRF guard); and per URL in the end: fired, retried, failed
TRACKER_OUTCOMES = Counter("adgw_ssai_trackers_total", "Server-side third-party tracker firing, by outcome", ["outcome"])


@dataclass(frozen=True, slots=True)
class Firing:
    """One event of one ad instance: its tracker URLs and what to send with them."""

    event: str
    urls: tuple[str, ...]
    macros: vast.MacroContext
    device_ip: str | None = None
    device_ua: str | None = None
    key: str | None = None  # dedup key: fire once per key (None: always)

    def headers(self) -> dict[str, str]:
        out = {}
        if self.device_ip:
            out["X-Device-IP"] = self.device_ip
        if self.device_ua:
            out["X-Device-User-Agent"] = self.device_ua
        return out


@dataclass(slots=True)
class FiringStats:
    submitted: int = 0
    dropped: int = 0  # queue full or closed
    duplicates: int = 0  # already claimed
    fired: int = 0  # URLs answered (any status below 500 but 408/429)
    retried: int = 0
    failed: int = 0  # URLs given up on
    outcomes: dict[str, int] = field(default_factory=dict)


class TrackerFiring:
    def __init__(self, fetcher: Fetcher, *, claim: Callable[[str], Awaitable[bool]] | None = None,
                 queue_size: int = 2048, workers: int = 4, timeout_s: float = 1.5, retries: int = 2,
                 backoff_s: float = 0.2, rng: random.Random | None = None) -> None:  # fmt: skip
        self._fetcher = fetcher
        self._claim = claim
        self._queue: asyncio.Queue[Firing] = asyncio.Queue(queue_size)
        self._workers_n = workers
        self._workers: list[asyncio.Task] = []
        self._timeout = timeout_s
        self._retries = retries
        self._backoff = backoff_s
        self._rng = rng or random.Random()
        self._closed = False
        self.stats = FiringStats()

    async def start(self) -> None:
        self._workers = [asyncio.create_task(self._work(), name=f"ssai-trackers-{i}") for i in range(self._workers_n)]

    def submit(self, firing: Firing) -> bool:
        """Queue a firing without waiting; False when it was dropped."""
        if not firing.urls:
            return True
        if self._closed:
            self._count("dropped")
            return False
        try:
            self._queue.put_nowait(firing)
        except asyncio.QueueFull:
            self._count("dropped")
            log.warning("tracker queue full: %s trackers of %s dropped", firing.event, firing.key or "an ad")
            return False
        self._count("submitted")
        return True

    def fire_url(self, url: str) -> None:
        """The resolver's `fire` (Error URLs of failed tag chains, macros already expanded)."""
        self.submit(Firing("error", (url,), vast.MacroContext()))

    async def close(self, drain_s: float = 2.0) -> None:
        """Stop taking work, give what is queued `drain_s` to go out, then stop."""
        self._closed = True
        try:
            async with asyncio.timeout(drain_s):
                await self._queue.join()
        except TimeoutError:
            log.warning("tracker queue not drained at shutdown: %d firings left", self._queue.qsize())
        for task in self._workers:
            await cancel_and_wait(task)

    async def _work(self) -> None:
        while True:
            firing = await self._queue.get()
            try:
                await self._one(firing)
            except Exception:  # noqa: BLE001 - a worker must outlive any one firing
                log.exception("tracker firing failed")
            finally:
                self._queue.task_done()

    async def _one(self, firing: Firing) -> None:
        if firing.key is not None and self._claim is not None:
            try:
                first = await self._claim(firing.key)
            except Exception as exc:  # noqa: BLE001 - the store away: better twice than never
                log.warning("tracker dedup unavailable (%s); firing %s anyway", exc, firing.key)
                first = True
            if not first:
                self._count("duplicates")
                return
        macros = firing.macros
        headers = firing.headers()
        await asyncio.gather(*(self._fire(macros_for(macros, self._rng).expand(u), headers) for u in firing.urls))

    async def _fire(self, url: str, headers: dict[str, str]) -> None:
        for attempt in range(self._retries + 1):
            if attempt:
                self._count("retried")
                await asyncio.sleep(self._backoff * 2 ** (attempt - 1))
            try:
                result = await self._fetcher.get(url, headers=headers, timeout=self._timeout)
            except FetchRefused as exc:
                self._outcome("refused")
                log.warning("tracker refused: %s", exc)
                self._count("failed")
                return
            except FetchError as exc:
                self._outcome("error")
                why = str(exc)
            else:
                if result.status < 500 and result.status not in RETRY_STATUSES:
                    self._outcome(str(result.status))
                    self._count("fired")
                    return
                self._outcome(str(result.status))
                why = f"HTTP {result.status}"
        self._count("failed")
        log.warning("tracker given up after %d attempts (%s): %s", self._retries + 1, why, url[:200])

    def _outcome(self, name: str) -> None:
        self.stats.outcomes[name] = self.stats.outcomes.get(name, 0) + 1
        TRACKER_OUTCOMES.labels(f"{name[0]}xx" if name.isdigit() else name).inc()

    def _count(self, name: str) -> None:
        setattr(self.stats, name, getattr(self.stats, name) + 1)
        TRACKER_OUTCOMES.labels("duplicate" if name == "duplicates" else name).inc()


def macros_for(base: vast.MacroContext, rng: random.Random) -> vast.MacroContext:
    """[CACHEBUSTING] fresh for each firing (VAST 4.1 §6.2.1)."""
    return replace(base, cachebusting=f"{rng.randrange(10_000_000, 100_000_000)}")


def firings(trackers: dict[str, Sequence[str]], events: Sequence[str],
            macros: Callable[[str], vast.MacroContext], *, ip: str | None, ua: str | None,
            key: str) -> list[Firing]:  # fmt: skip
    """The firings of `events` for one ad instance (creativeView goes with start);
    `macros(event)` gives the event's macro values."""
    out = []
    for event in events:
        names = (event, "creativeView") if event == "start" else (event,)
        urls = tuple(u for n in names for u in trackers.get(n, ()))
        if urls:
            out.append(Firing(event, urls, macros(event), ip, ua, f"{key}/{event}"))
    return out


__all__ = ["Firing", "FiringStats", "TrackerFiring", "firings", "macros_for"]
