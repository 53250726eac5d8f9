"""Dependency health for /readyz.

Each dependency registers a probe; a background loop runs them every second so a Redis
or Kafka outage shows within seconds and /readyz answers from memory. Only `critical`
dependencies (catalog, models, event spool) make the instance unready: an outage of a
shared service degrades every instance alike, and taking them all out of the load
balancer would turn a partial outage into a total one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from store.cancel import cancel_and_wait

OK, DEGRADED, DOWN = "ok", "degraded", "down"
Probe = Callable[[], Awaitable[tuple[str, str]]]  # -> (state, detail)

log = logging.getLogger("adgw.health")


@dataclass
class DependencyState:
    name: str
    critical: bool
    state: str = OK
    detail: str = ""
    since: float = 0.0


class Health:
    def __init__(self, interval: float = 1.0, probe_timeout: float = 0.8) -> None:
        self._probes: dict[str, tuple[Probe, bool]] = {}
        self._states: dict[str, DependencyState] = {}
        self._interval = interval
        self._probe_timeout = probe_timeout
        self._task: asyncio.Task | None = None
        self.draining = False

    def register(self, name: str, probe: Probe, *, critical: bool) -> None:
        self._probes[name] = (probe, critical)
        self._states[name] = DependencyState(name, critical, DOWN, "not checked yet", time.time())

    async def check_all(self) -> None:
        await asyncio.gather(*(self._check(name) for name in list(self._probes)))

    async def _check(self, name: str) -> None:
        probe, critical = self._probes[name]
        try:
            async with asyncio.timeout(self._probe_timeout):
                state, detail = await probe()
        except TimeoutError:
            state, detail = DOWN, "probe timed out"
        except Exception as exc:  # noqa: BLE001 - a probe failing means the dependency is down
            state, detail = DOWN, f"{type(exc).__name__}: {exc}"[:200]
        current = self._states[name]
        if current.state != state:
            log.info("dependency %s: %s -> %s (%s)", name, current.state, state, detail)
            current.since = time.time()
        current.state, current.detail = state, detail

    async def _loop(self) -> None:
        while True:
            await self.check_all()
            await asyncio.sleep(self._interval)

    async def start(self) -> None:
        await self.check_all()
        self._task = asyncio.create_task(self._loop(), name="health-probes")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)

    def snapshot(self) -> tuple[bool, dict]:
        deps = {
            s.name: {"state": s.state, "critical": s.critical, **({"detail": s.detail} if s.detail else {})}
            for s in self._states.values()
        }
        ready = not self.draining and all(s.state != DOWN for s in self._states.values() if s.critical)
        if self.draining:
            status = "draining"
        elif not ready:
            status = DOWN
        elif any(s.state != OK for s in self._states.values()):
            status = DEGRADED
        else:
            status = OK
        return ready, {"status": status, "dependencies": deps}
