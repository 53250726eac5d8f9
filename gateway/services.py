"""Long-lived domain services, opened in cleanup_ctx under typed keys: the catalog and
decision engine, the beacon token signer, the outbound fetcher."""

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
from gateway.fetch import Allow, Fetcher
from gateway.health import DEGRADED, DOWN, OK
from gateway.keys import HEALTH, SETTINGS, STORE

log = logging.getLogger("adgw")

ENGINE: web.AppKey[Engine] = web.AppKey("engine", Engine)
SCORER: web.AppKey[ModelScorer] = web.AppKey("scorer", ModelScorer)
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


async def engine_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    state: dict[str, str] = {"catalog": "", "error": ""}
    try:
        snapshot: CatalogSnapshot = await asyncio.to_thread(load_catalog, settings.catalog)
        scorer = app[SCORER]
        scorer.precompute_ads(snapshot.candidates)
        app[ENGINE] = Engine(snapshot, store=app[STORE], rng=random.SystemRandom(), scorer=scorer)
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
    app.cleanup_ctx.append(engine_ctx)
