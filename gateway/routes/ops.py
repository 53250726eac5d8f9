"""Operations: /healthz, /readyz, /metrics."""

from __future__ import annotations

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.health import DEGRADED, OK
from gateway.keys import HEALTH
from gateway.looplag import LAG_MONITOR
from gateway.metrics import DEPENDENCY_UP


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "alive"}, dumps=lambda o: orjson.dumps(o).decode())


async def readyz(request: web.Request) -> web.Response:
    ready, body = request.app[HEALTH].snapshot()
    return web.Response(status=200 if ready else 503, body=orjson.dumps(body), content_type="application/json")


async def metrics(request: web.Request) -> web.Response:
    _, snap = request.app[HEALTH].snapshot()
    for name, dep in snap["dependencies"].items():
        DEPENDENCY_UP.labels(name).set({OK: 1.0, DEGRADED: 0.5}.get(dep["state"], 0.0))
    monitor = request.app.get(LAG_MONITOR)
    if monitor is not None:
        monitor.publish_worst()
    resp = web.Response(body=generate_latest())
    resp.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    return resp


def setup(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
