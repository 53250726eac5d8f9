"""Beacons: `GET /v1/b/{event}` (tracking pixel) and `POST /v1/b` (batch). Thin: parse
into `RawBeacon`s, call the intake, write the verdicts. The pipeline (spool, forwarder)
opens and closes in `pipeline_ctx`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
from aiohttp import web

from beacons.intake import IntakeConfig, Verdict
from beacons.local_counter import LocalCounter
from beacons.pipeline import BeaconPipeline, default_gateway_id
from beacons.privacy import parse_networks
from beacons.validate import RawBeacon
from gateway.geo import GEO
from gateway.health import DEGRADED, DOWN, OK
from gateway.keys import HEALTH, SETTINGS, STORE
from gateway.peers import client_ip
from gateway.problems import problem
from gateway.services import ENGINE, SIGNER

PIPELINE: web.AppKey[BeaconPipeline] = web.AppKey("beacon_pipeline", BeaconPipeline)
MAX_BATCH = 1000
_TITLES = {400: "Malformed beacon", 403: "Invalid beacon token", 410: "Beacon token expired",
           429: "Too many beacons", 503: "Beacon not recorded"}
_NO_STORE = {"Cache-Control": "no-store"}


async def pipeline_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    pipeline = await BeaconPipeline.open(
        app[STORE], spool_dir=settings.spool_dir, spool_max_bytes=settings.spool_max_bytes,
        kafka_bootstrap=settings.kafka_bootstrap, topic=settings.kafka_topic,
        invalid_topic=settings.kafka_invalid_topic, signer=app[SIGNER], geo=app[GEO],
        intake_config=IntakeConfig(
            gateway_id=default_gateway_id(),
            ip_rate=settings.beacon_rate_ip[0], ip_burst=settings.beacon_rate_ip[1],
            session_rate=settings.beacon_rate_session[0], session_burst=settings.beacon_rate_session[1],
            datacenter_networks=parse_networks(settings.beacon_datacenter_networks),
        ),
    )
    app[PIPELINE] = pipeline

    counter = None
    if pipeline.forwarder is None:
        engine = app.get(ENGINE)
        counter = LocalCounter(pipeline.spool, app[STORE], catalog=(lambda: engine.catalog) if engine else None)
        pipeline.intake.on_durable = counter.feed
        counter.start()

    async def probe() -> tuple[str, str]:
        depth = pipeline.spool.depth_bytes
        # within a record or two of the cap, every beacon would get 503: out of the LB
        if depth >= pipeline.spool.max_bytes - (64 << 10):
            return DOWN, f"spool full ({depth} of {pipeline.spool.max_bytes} bytes)"
        forwarder = pipeline.forwarder
        if forwarder is None:
            return OK, f"spool-only, {depth} bytes"
        if not forwarder.connected:
            return DEGRADED, f"kafka unreachable, spooling ({depth} bytes): {forwarder.last_error or ''}"[:200]
        return OK, f"{depth} bytes awaiting kafka"

    # critical: an instance whose spool is full cannot accept a beacon without losing it
    app[HEALTH].register("spool", probe, critical=True)
    yield
    if counter is not None:
        await counter.stop()
        pipeline.intake.on_durable = None
    await pipeline.close(drain_timeout_s=5.0)


def _answer(verdict: Verdict) -> web.Response:
    if verdict.ok:
        headers = {**_NO_STORE, "X-Adgw-Duplicate": "1"} if verdict.duplicate else _NO_STORE
        return web.Response(status=204, headers=headers)
    headers = dict(_NO_STORE)
    if verdict.retry_after is not None:
        headers["Retry-After"] = str(max(1, round(verdict.retry_after)))
    return problem(verdict.status, _TITLES.get(verdict.status), verdict.detail, kind=verdict.reason,
                   headers=headers, reason=verdict.reason)


def _context(request: web.Request) -> tuple[str | None, str | None]:
    return client_ip(request, request.app[SETTINGS].trusted_proxies), request.headers.get("User-Agent")


async def beacon_get(request: web.Request) -> web.Response:
    query = request.rel_url.query
    ip, ua = _context(request)
    raw = RawBeacon(event=request.match_info["event"], token=query.get("t", ""), ts=query.get("ts"),
                    code=query.get("code"), off=query.get("off"), ua=ua, ip=ip)
    return _answer(await request.app[PIPELINE].intake.submit(raw))


def _field(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(int(value)) if float(value).is_integer() else str(value)
    raise ValueError(name)


async def beacon_batch(request: web.Request) -> web.Response:
    try:
        items = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        return problem(400, "Malformed batch", "the body is not JSON", kind="malformed-batch")
    if not isinstance(items, list) or len(items) > MAX_BATCH:
        return problem(400, "Malformed batch", f"expected a JSON array of at most {MAX_BATCH} beacons",
                       kind="malformed-batch")
    ip, ua = _context(request)
    raws: list[RawBeacon | None] = []
    for item in items:
        try:
            if not isinstance(item, dict) or not isinstance(item.get("event"), str):
                raise ValueError("event")
            raws.append(RawBeacon(event=item["event"], token=_field(item, "t") or "", ts=_field(item, "ts"),
                                  code=_field(item, "code"), off=_field(item, "off"), ua=ua, ip=ip))
        except ValueError:
            raws.append(None)
    valid = [r for r in raws if r is not None]
    verdicts = iter(await request.app[PIPELINE].intake.accept_batch(valid) if valid else [])
    results = [next(verdicts).as_item() if r is not None else {"status": 400, "reason": "malformed_item"}
               for r in raws]
    return web.Response(body=orjson.dumps({"results": results}), content_type="application/json",
                        headers=_NO_STORE)


def setup(app: web.Application) -> None:
    app.cleanup_ctx.append(pipeline_ctx)
    app.router.add_get("/v1/b/{event}", beacon_get)
    app.router.add_post("/v1/b", beacon_batch)
