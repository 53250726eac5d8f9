"""/admin/*: bearer-token protected operations (catalog swap; models are added by
gateway/routes/models.py)."""

from __future__ import annotations

import asyncio

import orjson
from aiohttp import web

from decision.catalog import loads_catalog
from gateway.admin import admin_denied
from gateway.services import engine_of

MAX_CATALOG_BYTES = 64 << 20


@web.middleware
async def admin_guard(request: web.Request, handler):
    if request.path.startswith("/admin/") and (denied := admin_denied(request)) is not None:
        return denied
    return await handler(request)


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
    previous = engine.swap_catalog(snapshot)
    return web.Response(body=orjson.dumps({"version": snapshot.version, "previous": previous.version,
                                           "line_items": len(snapshot.line_items)}),
                        content_type="application/json")


def setup(app: web.Application) -> None:
    app.middlewares.append(admin_guard)
    app.router.add_get("/admin/catalog", get_catalog)
    # the catalog body may be far larger than ADGW_MAX_BODY_BYTES: read it by streaming
    app.router.add_put("/admin/catalog", put_catalog)
