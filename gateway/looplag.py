"""Event-loop lag: how late a timer fires. Every request on this process waits behind
whatever holds the loop (a long computation, a GC pass, a thread holding the GIL), so
the lag is the floor under every latency figure, and the first thing to look at when
p99 grows. Sampled every `interval_s`; the histogram and the worst lag since the last
scrape are on /metrics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web
from prometheus_client import Gauge, Histogram

from store.cancel import cancel_and_wait

LAG = Histogram("adgw_event_loop_lag_seconds", "How late a periodic timer ran on the event loop",
                buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0))
WORST = Gauge("adgw_event_loop_lag_max_seconds", "Worst event-loop lag since the last scrape of /metrics")


class LagMonitor:
    def __init__(self, interval_s: float = 0.05) -> None:
        self.interval_s = interval_s
        self.worst = 0.0
        self.samples = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.interval_s
            await asyncio.sleep(self.interval_s)
            lag = max(0.0, loop.time() - due)
            LAG.observe(lag)
            self.samples += 1
            self.worst = max(self.worst, lag)

    def publish_worst(self) -> float:
        """Set the worst-lag gauge to the worst since the last call and start over (the
        metrics route calls this per scrape); returns it."""
        worst, self.worst = self.worst, 0.0
        WORST.set(worst)
        return worst

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="loop-lag")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)


LAG_MONITOR: web.AppKey[LagMonitor] = web.AppKey("loop_lag", LagMonitor)


async def lag_ctx(app: web.Application) -> AsyncIterator[None]:
    monitor = LagMonitor()
    app[LAG_MONITOR] = monitor
    monitor.start()
    yield
    await monitor.stop()
