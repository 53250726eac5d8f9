from __future__ import annotations

import pytest

from gateway.app import create_app
from gateway.config import load_settings


@pytest.fixture
async def client(aiohttp_client):
    settings = load_settings(env={"ADGW_MAX_BODY_BYTES": "1024", "ADGW_ADMIN_TOKEN": "s3cret-token"})
    return await aiohttp_client(create_app(settings))


async def test_healthz_and_readyz(client):
    resp = await client.get("/healthz")
    assert resp.status == 200
    resp = await client.get("/readyz")
    body = await resp.json()
    assert resp.status == 200, body
    assert body["dependencies"]["store"]["state"] == "ok"


async def test_unknown_route_is_problem_json(client):
    resp = await client.get("/no/such/thing")
    assert resp.status == 404
    assert resp.content_type == "application/problem+json"
    body = await resp.json()
    assert body["status"] == 404 and body["title"]


async def test_method_not_allowed_is_problem_json(client):
    resp = await client.post("/healthz")
    assert resp.status == 405
    assert resp.content_type == "application/problem+json"
    assert "GET" in resp.headers.get("Allow", "")


async def test_request_id_is_echoed_or_generated(client):
    resp = await client.get("/healthz", headers={"X-Request-Id": "abc-123"})
    assert resp.headers["X-Request-Id"] == "abc-123"
    resp = await client.get("/healthz")
    assert len(resp.headers["X-Request-Id"]) == 16
    assert resp.headers["X-Request-Id"] != (await client.get("/healthz")).headers["X-Request-Id"]


async def test_metrics_count_requests_per_route_and_status(client):
    await client.get("/healthz")
    text = await (await client.get("/metrics")).text()
    assert 'adgw_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert "adgw_http_request_seconds_bucket" in text


async def test_metrics_count_every_concurrent_request_once(client):
    """Each request is counted as it is answered (gateway/metrics.py, RequestStats): none
    lost, none twice, and a scrape sees every request answered before it."""
    import asyncio

    def count(text: str) -> float:
        line = 'adgw_http_requests_total{method="GET",route="/readyz",'
        return sum(float(row.split()[-1]) for row in text.splitlines() if row.startswith(line))

    async def one() -> int:
        return (await client.get("/readyz")).status

    before = count(await (await client.get("/metrics")).text())
    statuses = await asyncio.gather(*(one() for _ in range(40)))
    assert len(statuses) == 40
    after = count(await (await client.get("/metrics")).text())
    assert after - before == 40


async def test_startup_heap_is_frozen_out_of_full_collections(client):
    import gc

    from gateway.routes.beacons import PIPELINE
    from gateway.services import ENGINE

    app = client.server.app
    tracked = gc.get_objects(generation=None)  # every object a collection would walk
    assert gc.get_freeze_count() > 0
    from gateway.app import YOUNG_GC_THRESHOLD

    # the young generation is collected on the gateway's own schedule, not CPython's 700
    assert gc.get_threshold()[0] == YOUNG_GC_THRESHOLD > 700
    # what startup built (the catalog snapshot, the beacon pipeline) is out of reach of a
    # full collection, which would otherwise walk it on every gen-2 pass
    live = {id(o) for o in tracked}
    assert id(app[ENGINE].catalog) not in live
    assert id(app[PIPELINE]) not in live


async def test_the_gil_switch_interval_is_short_for_the_spool_writer(client):
    import sys

    from gateway.app import SWITCH_INTERVAL_S

    # the writer thread waits at most this long for the loop thread to hand it the GIL
    assert sys.getswitchinterval() == SWITCH_INTERVAL_S <= 0.001


async def test_event_loop_lag_is_measured_and_on_metrics(client):
    import asyncio
    import time

    from gateway.looplag import LAG_MONITOR

    def worst_in(text: str) -> float:
        return next(float(line.split()[-1]) for line in text.splitlines()
                    if line.startswith("adgw_event_loop_lag_max_seconds "))

    monitor = client.server.app[LAG_MONITOR]
    before = monitor.samples
    time.sleep(0.2)  # hold the loop, as a long computation in a handler would
    # the timer due during the hold fires after it: at least 0.2 s - one interval late
    for _ in range(200):
        if monitor.samples > before + 1:
            break
        await asyncio.sleep(monitor.interval_s)
    text = await (await client.get("/metrics")).text()
    assert worst_in(text) >= 0.2 - monitor.interval_s
    assert "adgw_event_loop_lag_seconds_bucket" in text
    # each scrape publishes the worst since the previous one and starts over
    monitor.worst = 0.5
    assert monitor.publish_worst() == 0.5 and monitor.worst == 0.0


async def test_a_request_past_its_timeout_gets_503_and_the_next_one_is_served(aiohttp_client):
    import asyncio
    import time

    from aiohttp import web

    from gateway.middleware import make_middlewares

    async def slow(request):
        await asyncio.sleep(30)
        return web.Response(text="too late")

    async def quick(request):
        return web.Response(text="ok")

    app = web.Application(middlewares=make_middlewares(0.4))
    app.router.add_get("/slow", slow)
    app.router.add_get("/quick", quick)
    client = await aiohttp_client(app)
    started = time.monotonic()
    resp = await client.get("/slow")
    took = time.monotonic() - started
    assert resp.status == 503
    assert resp.content_type == "application/problem+json"
    assert (await resp.json())["type"].endswith("timeout")
    assert resp.headers["Retry-After"] == "1"
    assert 0.4 <= took < 2.0  # cut off between its deadline and one sweep later
    # the same keep-alive connection serves the next request normally
    resp = await client.get("/quick")
    assert resp.status == 200 and await resp.text() == "ok"
    assert (await client.get("/quick")).status == 200
