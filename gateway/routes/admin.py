"""/admin/*: bearer-token protected operations: catalog swap, model registry."""

from __future__ import annotations

import asyncio

import orjson
from aiohttp import web

from decision.catalog import loads_catalog
from gateway.services import PACING, SCORER, engine_of

MAX_CATALOG_BYTES = 64 << 20


async def get_catalog(request: web.Request) -> web.Response:
    snap = engine_of(request.app).catalog
    return web.Response(body=orjson.dumps({
        "version": snap.version, "advertisers": len(snap.advertisers), "line_items": len(snap.line_items),
        "creatives": len(snap.creatives),
    }), content_type="application/json")


async def put_catalog(request: web.Request) -> web.Response:
    engine = engine_of(request.app)
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > MAX_CATALOG_BYTES:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_CATALOG_BYTES, actual_size=size)
        chunks.append(chunk)
    body = b"".join(chunks)
    # parse and index off the event loop: a 10,000-line-item catalog must not stall serving
    snapshot = await asyncio.to_thread(loads_catalog, body)
    scorer = request.app.get(SCORER)
    if scorer is not None:
        await asyncio.to_thread(scorer.precompute_ads, snapshot.candidates)
    request.app[PACING].set_catalog(snapshot)
    previous = engine.swap_catalog(snapshot)
    return web.Response(body=orjson.dumps({"version": snapshot.version, "previous": previous.version,
                                           "line_items": len(snapshot.line_items)}),
                        content_type="application/json")


def _json(body: object, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


async def get_models(request: web.Request) -> web.Response:
    return _json(request.app[SCORER].describe())


CONFIGURE_FIELDS = {"version": str, "canary_percent": (int, float), "canary_version": str, "shadow_version": str}


async def post_model(request: web.Request) -> web.Response:
    try:
        body = orjson.loads(await request.read() or b"{}")
    except orjson.JSONDecodeError as exc:
        raise web.HTTPBadRequest(text=f"body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="body must be a JSON object")
    problems = [f"unknown field {k!r}" for k in body if k not in CONFIGURE_FIELDS]
    problems += [f"{k}: wrong type" for k, t in CONFIGURE_FIELDS.items()
                 if k in body and body[k] is not None and (not isinstance(body[k], t) or isinstance(body[k], bool))]
    if problems:
        raise web.HTTPBadRequest(text="; ".join(problems))
    return _json(await request.app[SCORER].configure(request.match_info["name"], **body))


def setup(app: web.Application) -> None:
    # the bearer token is checked for every /admin/* path by the request middleware
    app.router.add_get("/admin/catalog", get_catalog)
    # the catalog body may be far larger than ADGW_MAX_BODY_BYTES: read it by streaming
    app.router.add_put("/admin/catalog", put_catalog)
    app.router.add_get("/admin/models", get_models)
    app.router.add_post("/admin/models/{name}", post_model)
