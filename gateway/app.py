"""The application factory. `web.Application` is never subclassed; long-lived clients
open and close in `cleanup_ctx` under typed keys (gateway/keys.py)."""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import AsyncIterator

from aiohttp import web

from gateway.config import Settings
from gateway.geo import geo_ctx
from gateway.health import DOWN, OK, Health
from gateway.kafka_probe import kafka_answers
from gateway.keys import HEALTH, SETTINGS, STORE
from gateway.looplag import lag_ctx
from gateway.middleware import make_middlewares
from gateway.routes import MODULES
from store import StoreError, open_store

log = logging.getLogger("adgw")
YOUNG_GC_THRESHOLD = 3_000
SWITCH_INTERVAL_S = 0.0005


async def _store_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    store = open_store(settings.redis_url)
    app[STORE] = store

    async def probe() -> tuple[str, str]:
        try:
            await store.ping()
        except StoreError as exc:
            return DOWN, str(exc)[:200]
        return OK, store.name

    app[HEALTH].register("redis" if settings.redis_url else "store", probe, critical=False)
    yield
    await store.close()


async def _kafka_probe_ctx(app: web.Application) -> AsyncIterator[None]:
    bootstrap = app[SETTINGS].kafka_bootstrap
    if bootstrap:
        async def probe() -> tuple[str, str]:
            ok, detail = await kafka_answers(bootstrap)
            return (OK if ok else DOWN), detail

        # not critical: events wait in the spool while Kafka is away
        app[HEALTH].register("kafka", probe, critical=False)
    yield


async def _health_ctx(app: web.Application) -> AsyncIterator[None]:
    health = app[HEALTH]
    await health.start()
    yield
    await health.stop()


async def _freeze_startup_heap(app: web.Application) -> None:
    # Everything built at startup (catalog index, models, libraries) lives as long as the
    # process. A full collection walked all of it, a ~45 ms pause on every beacon and ad
    # request in flight; frozen, collections see only what requests allocate.
    gc.collect()
    gc.freeze()
    # The youngest generation is collected every 3,000 net allocations. At the default
    # 700 the passes came so often that they cost ~16 us of every beacon; at 10,000 each
    # pass walked 10-16k objects, a 10-16 ms pause every second or two that set the p99
    # of beacon answers at half load (17-31 ms, against 11-12 ms at 3,000 in the same
    # runs, for the same CPU). Those passes came from the token cache's tuple per new
    # token; it keeps bytes now (beacons/tokens.py), and under beacon load a young pass
    # is rare (4 in a whole bench run, none over 1.6 ms).
    gc.set_threshold(YOUNG_GC_THRESHOLD, 10, 10)
    # The spool's writer thread needs the GIL twice per group commit (to take it, and to
    # hand the fsync back to the loop). With the default 5 ms switch interval a busy loop
    # held it up to 5 ms each time: at half the sustained beacon rate the hand-offs alone
    # reached 8 ms at p99. At 0.5 ms they stay under ~4 ms; the loop thread pays only
    # when another thread asks.
    sys.setswitchinterval(SWITCH_INTERVAL_S)


async def _on_shutdown(app: web.Application) -> None:
    app[HEALTH].draining = True


def create_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=make_middlewares(settings.request_timeout_s),
                          client_max_size=settings.max_body_bytes)
    app[SETTINGS] = settings
    app[HEALTH] = Health()
    app.cleanup_ctx.append(_store_ctx)
    app.cleanup_ctx.append(_kafka_probe_ctx)
    app.cleanup_ctx.append(geo_ctx)  # before the routes' contexts, which use it
    app.cleanup_ctx.append(lag_ctx)
    for module in MODULES:
        module.setup(app)
    # last, so every probe is registered before the first check
    app.cleanup_ctx.append(_health_ctx)
    app.on_startup.append(_freeze_startup_heap)  # after every cleanup_ctx has opened
    app.on_shutdown.append(_on_shutdown)
    return app
