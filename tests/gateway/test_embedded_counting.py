"""The embedded default (no Kafka): accepted beacons are counted in process from the
spool, exactly once, and a full spool takes the instance out of the load balancer."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from lxml import etree

from gateway.app import create_app
from gateway.config import load_settings
from gateway.keys import STORE

NS = "{http://www.iab.com/VAST}"


async def impression_paths(client, sid: str) -> list[str]:
    resp = await client.get(f"/v1/vast?sid={sid}&dur=30&country=US")
    root = etree.fromstring(await resp.read())
    out = []
    for ad in root.iter(f"{NS}Ad"):
        url = next(u.text.strip() for u in ad.iter(f"{NS}Impression") if "/v1/b/" in u.text)
        parts = urlsplit(url)
        out.append(f"{parts.path}?{parts.query}".replace("[TIMESTAMP]", "-1"))
    return out


async def wait_for(predicate, within: float = 5.0) -> bool:
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(0.1)
    return False


async def test_beacons_are_counted_once_without_kafka(aiohttp_client, tmp_path):
    settings = load_settings(env={"ADGW_SPOOL_DIR": str(tmp_path / "spool")})
    client = await aiohttp_client(create_app(settings))
    paths = await impression_paths(client, "count-2")
    assert paths
    for path in paths:
        assert (await client.get(path)).status == 204
        again = await client.get(path)
        assert again.status == 204 and again.headers.get("X-Adgw-Duplicate") == "1"
    store = client.app[STORE]
    keys: list[str] = []

    async def counted() -> bool:
        nonlocal keys
        keys = [k for k in store._data if k.startswith("dlv:") and k.endswith(":impression:total")]
        return sum(await store.get_ints(keys)) == len(paths)

    assert await wait_for(counted), keys
    await asyncio.sleep(1.0)  # a second pass must not count anything twice
    assert sum(await store.get_ints(keys)) == len(paths)
    spend = [k for k in store._data if k.startswith("pace:spend:") and k.endswith(":total")]
    assert spend and sum(await store.get_ints(spend)) > 0


async def test_full_spool_makes_the_instance_unready(aiohttp_client, tmp_path):
    settings = load_settings(env={"ADGW_SPOOL_DIR": str(tmp_path / "spool"), "ADGW_SPOOL_MAX_BYTES": str(65536 + 1500)})
    client = await aiohttp_client(create_app(settings))
    assert (await client.get("/readyz")).status == 200
    statuses = []
    for i in range(6):
        for path in await impression_paths(client, f"fill-{i}"):
            statuses.append((await client.get(path)).status)
    assert 204 in statuses and set(statuses) <= {204, 503}

    async def unready() -> bool:
        return (await client.get("/readyz")).status == 503

    assert await wait_for(unready, 4.0)
    body = await (await client.get("/readyz")).json()
    assert body["dependencies"]["spool"]["state"] == "down"
