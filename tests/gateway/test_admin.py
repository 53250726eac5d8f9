"""PUT /admin/catalog: validated, swapped atomically under load, token required."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from gateway.app import create_app
from gateway.config import load_settings

ROOT = Path(__file__).resolve().parents[2]
ADMIN = {"Authorization": "Bearer admin-token-for-tests"}


@pytest.fixture
async def client(aiohttp_client, tmp_path):
    settings = load_settings(env={"ADGW_ADMIN_TOKEN": "admin-token-for-tests", "ADGW_SPOOL_DIR": str(tmp_path)})
    return await aiohttp_client(create_app(settings))


@pytest.fixture(scope="module")
def catalog_doc() -> dict:
    return json.loads((ROOT / "fixtures" / "catalog.json").read_text())


async def test_admin_needs_the_token(client):
    assert (await client.get("/admin/catalog")).status == 401
    assert (await client.get("/admin/catalog", headers={"Authorization": "Bearer wrong"})).status == 401
    resp = await client.get("/admin/catalog", headers=ADMIN)
    assert resp.status == 200 and (await resp.json())["line_items"] >= 200


async def test_admin_disabled_without_a_token(aiohttp_client, tmp_path):
    client = await aiohttp_client(create_app(load_settings(env={"ADGW_SPOOL_DIR": str(tmp_path)})))
    resp = await client.put("/admin/catalog", data=b"{}")
    assert resp.status == 404 and resp.content_type == "application/problem+json"


async def test_invalid_catalog_is_refused_with_every_problem(client, catalog_doc):
    before = (await (await client.get("/admin/catalog", headers=ADMIN)).json())["version"]
    broken = json.loads(json.dumps(catalog_doc))
    broken["line_items"][0]["tier"] = "platinum"
    broken["line_items"][1]["bid_cpm"] = "lots"
    broken["creatives"][0]["duration_s"] = -1
    resp = await client.put("/admin/catalog", data=json.dumps(broken), headers=ADMIN)
    assert resp.status == 422
    body = await resp.json()
    assert len(body["problems"]) >= 3, body
    resp = await client.put("/admin/catalog", data=b"{not json", headers=ADMIN)
    assert resp.status == 422
    after = (await (await client.get("/admin/catalog", headers=ADMIN)).json())["version"]
    assert after == before


async def test_swap_under_load_fails_no_request(client, catalog_doc):
    new = dict(catalog_doc, version="swapped-v2")
    stop = asyncio.Event()
    statuses: list[int] = []

    async def load():
        while not stop.is_set():
            resp = await client.get("/v1/vast?sid=load&dur=30&genre=news&country=US")
            statuses.append(resp.status)
            await resp.read()

    workers = [asyncio.create_task(load()) for _ in range(4)]
    await asyncio.sleep(0.2)
    resp = await client.put("/admin/catalog", data=json.dumps(new), headers=ADMIN)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["version"] == "swapped-v2"
    await asyncio.sleep(0.2)
    stop.set()
    await asyncio.gather(*workers)
    assert len(statuses) > 10 and set(statuses) == {200}
    assert (await (await client.get("/admin/catalog", headers=ADMIN)).json())["version"] == "swapped-v2"


async def test_models_admin_and_readiness(client):
    assert (await client.get("/admin/models")).status == 401
    resp = await client.get("/admin/models", headers=ADMIN)
    assert resp.status == 200
    models = (await resp.json())["models"]
    assert {"completion", "click"} <= set(models)
    ready = await (await client.get("/readyz")).json()
    assert ready["dependencies"]["models"]["state"] == "ok", ready
    assert ready["dependencies"]["models"]["critical"] is True

    resp = await client.post("/admin/models/completion", json={"canary_percent": 10, "canary_version": "1"}, headers=ADMIN)
    assert resp.status == 422, await resp.text()  # the active version cannot be its own canary
    resp = await client.post("/admin/models/completion", json={"version": "1", "shadow_version": ""}, headers=ADMIN)
    assert resp.status == 200, await resp.text()
    resp = await client.post("/admin/models/no-such-model", json={"version": "1"}, headers=ADMIN)
    assert resp.status == 404 and resp.content_type == "application/problem+json"
    resp = await client.post("/admin/models/completion", json={"colour": "red"}, headers=ADMIN)
    assert resp.status == 400 and "colour" in (await resp.json())["detail"]
    resp = await client.post("/admin/models/completion", data=b"[1,", headers=ADMIN)
    assert resp.status == 400


async def test_decisions_are_scored_by_the_shipped_models(client):
    resp = await client.get("/v1/vast?sid=m1&dur=30&genre=news&country=US&debug=1", headers=ADMIN)
    body = await resp.json()
    assert body["breaks"][0]["model_tier"] == "T0", body["breaks"][0]["model_tier"]
