"""Long-lived domain services, opened in cleanup_ctx under typed keys: the beacon token
signer, the outbound fetcher, the model scorer, the pacing controller (with its refresh
loop), the catalog and decision engine; and `decide`, the one way the gateway asks the
engine."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

from aiohttp import web

from beacons.tokens import KeyRing, TokenSigner
from decision.catalog import CatalogSnapshot, load_catalog
from decision.engine import Engine
from decision.errors import CatalogInvalid
from decision.models.serving import ModelScorer
from decision.pacing import PacingController, spend_for_event
from decision.pod import BreakSpec, Pod, StreamHistory
from decision.request import AdRequest
from gateway.fetch import Allow, Fetcher
from gateway.health import DEGRADED, DOWN, OK
from gateway.keys import HEALTH, SETTINGS, STORE
from store import StoreError
from store.cancel import cancel_and_wait

log = logging.getLogger("adgw")

ENGINE: web.AppKey[Engine] = web.AppKey("engine", Engine)
SCORER: web.AppKey[ModelScorer] = web.AppKey("scorer", ModelScorer)
PACING: web.AppKey[PacingController] = web.AppKey("pacing", PacingController)
SIGNER: web.AppKey[TokenSigner] = web.AppKey("signer", TokenSigner)
FETCHER: web.AppKey[Fetcher] = web.AppKey("fetcher", Fetcher)


class EngineUnavailable(Exception):
    status_hint = 503
    retry_after = 5
    kind = "not-ready"


def engine_of(app: web.Application) -> Engine:
    engine = app.get(ENGINE)
    if engine is None:
        raise EngineUnavailable("the catalog is not loaded; see /readyz")
    return engine


async def scorer_ctx(app: web.Application) -> AsyncIterator[None]:
    scorer = ModelScorer(app[SETTINGS].models_dir, store=app[STORE])
    await scorer.start()
    app[SCORER] = scorer

    async def probe() -> tuple[str, str]:
        health = scorer.health()
        if not health["ready"]:
            return DOWN, "models not loaded"
        if health["degraded"]:
            return DEGRADED, "served by fallback tier: " + ", ".join(health["degraded"])
        return OK, ", ".join(f"{n}@{v}" for n, v in sorted(health["active"].items()))

    # critical: an instance that has not loaded its models must not take traffic; a model
    # served by its fallback tier only degrades
    app[HEALTH].register("models", probe, critical=True)
    yield
    await scorer.stop()


async def _refresh_pacing(pacing: PacingController) -> None:
    try:
        await pacing.refresh()
    except StoreError as exc:
        # keep the last rates; the controller itself stops a line item whose counters
        # have been unreadable for longer than its staleness bound
        log.warning("pacing refresh failed: %s", exc)


async def pacing_ctx(app: web.Application) -> AsyncIterator[None]:
    pacing = PacingController(app[STORE])
    app[PACING] = pacing

    async def loop() -> None:
        while True:
            await asyncio.sleep(pacing.refresh_interval_s)
            await _refresh_pacing(pacing)

    task = asyncio.create_task(loop(), name="pacing-refresh")
    yield
    await cancel_and_wait(task)


async def decide(app: web.Application, request: AdRequest, specs: list[BreakSpec],
                 history: StreamHistory | None = None, *, trace: bool = False) -> tuple[Pod, ...]:
    """The one way the gateway asks the engine: it also tells pacing about the request
    and what this instance served, so its per-refresh allowance holds between refreshes."""
    engine = engine_of(app)
    pods = await engine.decide(request, specs, history, trace=trace)
    pacing = app[PACING]
    pacing.note_request()
    snap = engine.catalog
    for pod in pods:
        for ad in pod.ads:
            li = snap.line_item(ad.line_item_id)
            pacing.note_served(ad.line_item_id, spend_for_event(li.goal, "impression", ad.price_micros, li.rate_micros))
    return pods


async def engine_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    state: dict[str, str] = {"catalog": "", "error": ""}
    try:
        snapshot: CatalogSnapshot = await asyncio.to_thread(load_catalog, settings.catalog)
        scorer = app[SCORER]
        scorer.precompute_ads(snapshot.candidates)
        pacing = app[PACING]
        pacing.set_catalog(snapshot)
        await _refresh_pacing(pacing)
        app[ENGINE] = Engine(snapshot, store=app[STORE], rng=random.SystemRandom(), scorer=scorer, pacing=pacing)
        state["catalog"] = snapshot.version
        log.info("catalog %s loaded: %d line items", snapshot.version, len(snapshot.line_items))
    except CatalogInvalid as exc:
        state["error"] = f"{len(exc.problems)} problem(s): " + "; ".join(exc.problems[:3])
        for problem in exc.problems:
            log.error("catalog %s: %s", settings.catalog, problem)

    async def probe() -> tuple[str, str]:
        engine = app.get(ENGINE)
        if engine is None:
            return DOWN, state["error"] or "not loaded"
        return OK, f"version {engine.catalog.version}"

    # critical: without a catalog this instance cannot fill a single ad
    app[HEALTH].register("catalog", probe, critical=True)
    yield


async def signer_ctx(app: web.Application) -> AsyncIterator[None]:
    keys = app[SETTINGS].beacon_keys
    ring = KeyRing(list(keys)) if keys else KeyRing.ephemeral()
    app[SIGNER] = TokenSigner(ring)
    yield


async def fetcher_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    own = urlsplit(settings.base_url)
    origins = ((own.hostname or "127.0.0.1", own.port or (443 if own.scheme == "https" else 80)),
               ("127.0.0.1", settings.port), ("localhost", settings.port))
    fetcher = Fetcher(Allow.parse(list(settings.wrapper_allow), also_origins=origins if settings.demo else ()))
    await fetcher.start()
    app[FETCHER] = fetcher
    yield
    await fetcher.close()


def setup(app: web.Application) -> None:
    app.cleanup_ctx.append(signer_ctx)
    app.cleanup_ctx.append(fetcher_ctx)
    app.cleanup_ctx.append(scorer_ctx)
    app.cleanup_ctx.append(pacing_ctx)
    app.cleanup_ctx.append(engine_ctx)
