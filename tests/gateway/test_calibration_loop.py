"""Predictions meet outcomes through the real app (embedded default): the VAST's beacon
tokens carry the scores and model versions, the in-process counter adds them per
version, and the scorer's refresh shows the calibration ratio in /admin/models and
/metrics."""

from __future__ import annotations

import asyncio
import math
import time
from urllib.parse import urlsplit

from lxml import etree

from decision.models import outcomes
from gateway.app import create_app
from gateway.config import load_settings
from gateway.keys import STORE
from gateway.services import SCORER

NS = "{http://www.iab.com/VAST}"
ADMIN = {"Authorization": "Bearer admin-token-for-tests"}


def local(url: str) -> str:
    parts = urlsplit(url.strip())
    return f"{parts.path}?{parts.query}".replace("[TIMESTAMP]", "-1")


async def served_beacons(client, sid: str) -> list[tuple[str, str]]:
    """(impression path, complete path) of every ad in one VAST answer."""
    resp = await client.get(f"/v1/vast?sid={sid}&dur=30&country=US")
    assert resp.status == 200
    root = etree.fromstring(await resp.read())
    out = []
    for ad in root.iter(f"{NS}Ad"):
        imp = next(u.text for u in ad.iter(f"{NS}Impression") if "/v1/b/" in (u.text or ""))
        done = next(t.text for t in ad.iter(f"{NS}Tracking") if t.get("event") == "complete")
        out.append((local(imp), local(done)))
    return out


async def test_completes_reach_the_models_calibration(aiohttp_client, tmp_path):
    settings = load_settings(env={"ADGW_SPOOL_DIR": str(tmp_path / "spool"), "ADGW_ADMIN_TOKEN": "admin-token-for-tests"})
    client = await aiohttp_client(create_app(settings))
    fired = 0
    for i in range(3):
        for imp, done in await served_beacons(client, f"calib-{i}"):
            assert (await client.get(imp)).status == 204
            assert (await client.get(done)).status == 204
            fired += 1
    assert fired

    store = client.app[STORE]
    scorer = client.app[SCORER]
    active = scorer.slots["completion"].state.active
    assert active is not None
    label = active.label
    obs_key, n_key = outcomes.key(label, "obs"), outcomes.key(label, "n")

    async def applied() -> int:
        keys = [k for k in store._data if k.startswith("dlv:") and k.endswith(":complete:total")]
        return sum(await store.get_ints(keys))

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and await applied() < fired:
        await asyncio.sleep(0.1)
    assert await applied() == fired
    # an ad the engine had to score with priors (a model past its deadline on a busy
    # machine) is not the model's: impressions and completes are counted for the same ads
    scored, completed = await store.get_ints([n_key, obs_key])
    assert scored == completed and scored >= 1

    # read as of half an hour later, when this cohort's outcomes are complete
    await scorer.refresh_outcomes(now=time.time() + 1800)
    resp = await client.get("/admin/models", headers=ADMIN)
    assert resp.status == 200
    view = await resp.json()
    completion = view["models"]["completion"]
    assert completion["active"]["version"] == active.version
    cal = completion["active"]["stats"]["calibration"]
    assert cal["impressions"] == cal["observed"] == scored
    assert 0 < cal["predicted"] <= scored
    assert math.isfinite(cal["ratio"]) and 0 < cal["ratio"] <= 1.0  # every ad completed: p <= 1 each
    assert view["outcomes"]["refreshed_at"] is not None and view["outcomes"]["error"] is None
    click = view["models"]["click"]["active"]["stats"]["calibration"]
    assert click["impressions"] >= 1 and click["observed"] == 0 and click["ratio"] is None

    metrics = await (await client.get("/metrics")).text()
    line = next(x for x in metrics.splitlines()
                if x.startswith("adgw_model_calibration_ratio{") and 'model="completion"' in x
                and f'version="{active.version}"' in x)
    assert math.isclose(float(line.rsplit(" ", 1)[1]), cal["ratio"], rel_tol=1e-3)
