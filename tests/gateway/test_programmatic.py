"""Programmatic line items: the third-party tag is resolved (wrapper chain) within the
request's budget, our trackers merged in; a slow or refused tag drops the ad, not the request."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from aiohttp import web
from lxml import etree

from gateway.app import create_app
from gateway.config import load_settings
from gateway.keys import STORE

ROOT = Path(__file__).resolve().parents[2]
NS = "{http://www.iab.com/VAST}"
ADMIN = "admin-token-for-tests"

WRAPPER = """<VAST version="4.2" xmlns="http://www.iab.com/VAST"><Ad id="w1"><Wrapper>
<AdSystem>ssp</AdSystem><Error><![CDATA[{base}/err?c=[ERRORCODE]]]></Error>
<Impression><![CDATA[{base}/imp/wrapper]]></Impression>
<VASTAdTagURI><![CDATA[{base}/inline]]></VASTAdTagURI></Wrapper></Ad></VAST>"""
INLINE = """<VAST version="4.2" xmlns="http://www.iab.com/VAST"><Ad id="i1"><InLine>
<AdSystem>dsp</AdSystem><AdTitle>Third-party spot</AdTitle>
<Impression><![CDATA[{base}/imp/inline]]></Impression><AdServingId>dsp-1</AdServingId>
<Creatives><Creative id="dsp-cr"><UniversalAdId idRegistry="ad-id.org">DSP0001</UniversalAdId><Linear>
<Duration>00:00:15</Duration><MediaFiles><MediaFile delivery="progressive" type="video/mp4" width="640" height="360">
<![CDATA[https://cdn.dsp.example/spot.mp4]]></MediaFile></MediaFiles></Linear></Creative></Creatives>
</InLine></Ad></VAST>"""


@pytest.fixture
async def ssp(aiohttp_server):
    hits: list[str] = []

    async def wrapper(request):
        hits.append("wrapper:" + request.headers.get("X-Device-IP", "-"))
        return web.Response(text=WRAPPER.format(base=f"http://127.0.0.1:{request.url.port}"), content_type="application/xml")

    async def inline(request):
        hits.append("inline")
        return web.Response(text=INLINE.format(base=f"http://127.0.0.1:{request.url.port}"), content_type="application/xml")

    async def slow(request):
        await asyncio.sleep(5)
        return web.Response(text="<VAST version=\"4.2\"/>")

    app = web.Application()
    app.router.add_get("/wrapper", wrapper)
    app.router.add_get("/inline", inline)
    app.router.add_get("/slow", slow)
    server = await aiohttp_server(app, host="127.0.0.1")
    server.hits = hits
    return server


def programmatic_catalog(tmp_path: Path, tag_url: str) -> Path:
    doc = json.loads((ROOT / "fixtures" / "catalog.json").read_text())
    li = next(li for li in doc["line_items"] if li["tier"] == "programmatic")
    creative = next(c for c in doc["creatives"] if c["id"] == li["creative_ids"][0])
    creative["vast_tag_url"] = tag_url
    li["caps"] = [{"n": 3, "per": "day"}]  # so a decision reserves cap counters for it
    campaign = next(c for c in doc["campaigns"] if c["id"] == li["campaign_id"])
    doc.update(line_items=[li], creatives=[creative], campaigns=[campaign],
               advertisers=[a for a in doc["advertisers"] if a["id"] in (campaign["advertiser_id"], creative["advertiser_id"])])
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(doc))
    return path


async def make_client(aiohttp_client, tmp_path, tag_url, allow="127.0.0.1/32"):
    env = {"ADGW_CATALOG": str(programmatic_catalog(tmp_path, tag_url)), "ADGW_SPOOL_DIR": str(tmp_path / "spool"),
           "ADGW_PUBLIC_URL": "http://gw.test", "ADGW_ADMIN_TOKEN": ADMIN}
    if allow:
        env["ADGW_WRAPPER_ALLOW"] = allow
    return await aiohttp_client(create_app(load_settings(env=env)))


async def test_wrapper_chain_resolves_into_an_inline_with_our_trackers(aiohttp_client, tmp_path, ssp):
    client = await make_client(aiohttp_client, tmp_path, f"http://127.0.0.1:{ssp.port}/wrapper?cb=[CACHEBUSTING]")
    resp = await client.get("/v1/vast?sid=dev-p&dur=15&ip=203.0.113.7")
    root = etree.fromstring(await resp.read())
    ads = root.findall(f"{NS}Ad")
    assert len(ads) == 1
    inline = ads[0].find(f"{NS}InLine")
    assert inline is not None, etree.tostring(root)[:500]
    impressions = [e.text.strip() for e in inline.findall(f"{NS}Impression")]
    assert any(u.endswith("/imp/inline") for u in impressions)
    assert any(u.endswith("/imp/wrapper") for u in impressions)
    assert any(u.startswith("http://gw.test/v1/b/impression?t=") for u in impressions)
    media = [m.text.strip() for m in inline.iter(f"{NS}MediaFile")]
    assert media == ["https://cdn.dsp.example/spot.mp4"]
    events = {t.get("event") for t in inline.iter(f"{NS}Tracking")}
    assert {"start", "complete"} <= events
    assert ssp.hits == ["wrapper:203.0.113.7", "inline"]  # device IP forwarded to the SSP
    resp = await client.get("/v1/vast?sid=dev-p2&dur=15&ip=203.0.113.8")
    assert len(etree.fromstring(await resp.read()).findall(f"{NS}Ad")) == 1
    assert len(ssp.hits) == 2  # the resolved chain came from the short-TTL tag cache


@pytest.mark.parametrize("path,allow", [("/slow", "127.0.0.1/32"), ("/wrapper", None)])
async def test_slow_or_refused_tag_drops_the_ad_within_budget(aiohttp_client, tmp_path, ssp, path, allow):
    client = await make_client(aiohttp_client, tmp_path, f"http://127.0.0.1:{ssp.port}{path}", allow=allow)
    started = time.monotonic()
    resp = await client.get("/v1/vast?sid=dev-q&dur=15")
    elapsed = time.monotonic() - started
    assert resp.status == 200
    root = etree.fromstring(await resp.read())
    assert root.findall(f"{NS}Ad") == []
    assert elapsed < 3.0, f"answered after {elapsed:.2f}s"
    resp = await client.get("/v1/vast?sid=dev-r&dur=15&debug=1", headers={"Authorization": f"Bearer {ADMIN}"})
    body = await resp.json()
    dropped = body["breaks"][0]["programmatic_dropped"]
    assert dropped, body["breaks"][0]
    # the dropped ad's frequency-cap reservation is released
    store = client.app[STORE]
    assert await store.get(f"capres:{dropped[0]['imp_id']}") is None
