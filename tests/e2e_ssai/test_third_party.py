"""Programmatic ads in SSAI: the line item's VAST tag is resolved through the guarded
fetcher, its HLS MediaFile is stitched, and its own trackers are fired by the gateway when
the segment fetches show the event: once per event, with the device headers and macros
expanded, retried a bounded number of times when failing, never delaying the 302.
In-process gateway and a local aiohttp server as SSP and tracker (ADGW_WRAPPER_ALLOW)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from prometheus_client import REGISTRY

from gateway.app import create_app
from gateway.config import Settings
from gateway.routes.ssai import TRACKERS
from tests.e2e_ssai.helpers import ad_blocks
from tests.support.services import free_port

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def tracker_count(outcome: str) -> float:
    return REGISTRY.get_sample_value("adgw_ssai_trackers_total", {"outcome": outcome}) or 0.0
UA = "TestTV/1.0 (e2e)"
MACROS = "ts=[TIMESTAMP]&cb=[CACHEBUSTING]&sid=[ADSERVINGID]&ip=[DEVICEIP]&ua=[DEVICEUA]&ph=[ADPLAYHEAD]&x=[UNKNOWNMACRO]"
EVENTS = ("creativeView", "start", "firstQuartile", "midpoint", "thirdQuartile", "complete")


def inline(tracker: str, media: str, media_type: str = "application/x-mpegURL") -> str:
    tracking = "".join(f'<Tracking event="{e}"><![CDATA[{tracker}/t/{e}?{MACROS}]]></Tracking>' for e in EVENTS)
    return f"""<VAST version="4.2" xmlns="http://www.iab.com/VAST"><Ad id="tp1"><InLine>
<AdSystem>dsp</AdSystem><AdTitle>Third-party spot</AdTitle>
<Impression><![CDATA[{tracker}/t/impression?{MACROS}]]></Impression>
<Impression><![CDATA[{tracker}/fail/impression]]></Impression>
<Impression><![CDATA[{tracker}/slow/impression]]></Impression>
<AdServingId>dsp-serving-1</AdServingId>
<Creatives><Creative id="dsp-cr"><Linear><Duration>00:00:15</Duration><TrackingEvents>{tracking}</TrackingEvents>
<MediaFiles><MediaFile delivery="progressive" type="video/mp4" width="640" height="360"><![CDATA[{tracker}/spot.mp4]]></MediaFile>
<MediaFile delivery="streaming" type="{media_type}" width="640" height="360"><![CDATA[{media}]]></MediaFile>
</MediaFiles></Linear></Creative></Creatives></InLine></Ad></VAST>"""


def programmatic_catalog(tmp_path: Path, tag_url: str) -> Path:
    doc = json.loads((ROOT / "fixtures" / "catalog.json").read_text())
    li = next(li for li in doc["line_items"] if li["tier"] == "programmatic" and li["creative_ids"] == ["cr-prog-1"])
    creative = next(c for c in doc["creatives"] if c["id"] == "cr-prog-1")
    creative["vast_tag_url"] = tag_url
    campaign = next(c for c in doc["campaigns"] if c["id"] == li["campaign_id"])
    doc.update(line_items=[li], creatives=[creative], campaigns=[campaign],
               advertisers=[a for a in doc["advertisers"] if a["id"] in (campaign["advertiser_id"], creative["advertiser_id"])])  # fmt: skip
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(doc))
    return path


class Ssp:
    """The SSP (tag) and the third-party tracker in one local server."""

    def __init__(self) -> None:
        self.hits: list[tuple[str, dict[str, str], dict[str, str]]] = []  # (path, query, headers)
        self.media = ""
        self.media_type = "application/x-mpegURL"
        self.port = free_port()

    def app(self) -> web.Application:
        async def tag(request: web.Request) -> web.Response:
            base = f"http://127.0.0.1:{self.port}"
            return web.Response(text=inline(base, self.media, self.media_type), content_type="application/xml")

        async def track(request: web.Request) -> web.Response:
            self.hits.append((request.path, dict(request.query), dict(request.headers)))
            if request.path.startswith("/fail/"):
                return web.Response(status=503)
            if request.path.startswith("/slow/"):
                await asyncio.sleep(3.0)
            return web.Response(status=204)

        app = web.Application()
        app.router.add_get("/vast", tag)
        app.router.add_get("/{kind:(t|fail|slow)}/{event}", track)
        return app

    def count(self, path: str) -> int:
        return sum(1 for p, _, _ in self.hits if p == path)


async def _gateway(tmp_path: Path, ssp: Ssp):
    port = free_port()
    settings = Settings(host="127.0.0.1", port=port, public_url=f"http://127.0.0.1:{port}",
                        spool_dir=tmp_path / "spool", wrapper_allow=("127.0.0.1/32",),
                        catalog=programmatic_catalog(tmp_path, f"http://127.0.0.1:{ssp.port}/vast?cb=[CACHEBUSTING]"))  # fmt: skip
    app = create_app(settings)
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    ssp.media = f"{settings.base_url}/demo/ads/ad-15a/master.m3u8"
    return app, server, settings.base_url


async def _wait(predicate, timeout: float = 8.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_third_party_trackers_fire_once_per_event_off_the_response_path(tmp_path: Path) -> None:
    ssp = Ssp()
    ssp_server = TestServer(ssp.app(), host="127.0.0.1", port=ssp.port)
    await ssp_server.start_server()
    outcomes = ("submitted", "duplicate", "fired", "retried", "failed", "5xx")
    before = {o: tracker_count(o) for o in outcomes}
    app, server, base = await _gateway(tmp_path, ssp)
    try:
        async with aiohttp.ClientSession(headers={"User-Agent": UA}) as http:
            async with http.post(f"{base}/v1/sessions", json={"origin": f"{base}/demo/vod/master.m3u8",
                                                              "sid": "tp-device", "cid": "show-1"}) as resp:  # fmt: skip
                assert resp.status == 201, await resp.text()
                session = await resp.json()
            async with http.get(session["manifest_url"].replace("master.m3u8", "media/1.m3u8")) as resp:
                text = await resp.text()
            async with http.get(session["tracking_url"]) as resp:
                avails = (await resp.json())["avails"]
            assert avails and all(ad["creativeId"] == "cr-prog-1" for a in avails for ad in a["ads"])
            first = ad_blocks(text)[0]
            assert first.duration == pytest.approx(15.0)
            seg_urls = [line for line in text.splitlines() if f"/seg/{first.avail}/{first.ad}/" in line]
            assert len(seg_urls) == len(first.segments) >= 4
            took = []
            for i, url in enumerate(seg_urls):
                began = time.monotonic()
                async with http.get(url, allow_redirects=False) as resp:
                    took.append(time.monotonic() - began)
                    assert resp.status == 302
                    assert resp.headers["Location"] == f"{base}/demo/ads/ad-15a/v1/seg_{i:03d}.ts"
            # an ABR switch and a refetch show the same events again: nothing fires twice
            for url in (seg_urls[0].replace("?v=1", "?v=0"), seg_urls[-1]):
                async with http.get(url, allow_redirects=False) as resp:
                    assert resp.status == 302
            # the slow tracker (3 s) and the failing one (backoff) never held a redirect back
            assert max(took) < 1.0, took

            await _wait(lambda: ssp.count("/fail/impression") == 3 and ssp.count("/t/complete") == 1)
            await asyncio.sleep(0.8)  # time for any extra (wrong) retry or duplicate to arrive
            counts = Counter(p for p, _, _ in ssp.hits)
            assert {e: counts[f"/t/{e}"] for e in ("impression", *EVENTS)} == dict.fromkeys(("impression", *EVENTS), 1)
            assert counts["/fail/impression"] == 3  # one try and two retries, then given up
            assert 1 <= counts["/slow/impression"] <= 3  # a timeout is retried too, in the background
            for path, query, headers in ssp.hits:
                assert headers["X-Device-IP"] == "127.0.0.1", path
                assert headers["X-Device-User-Agent"] == UA, path
                if path.startswith("/t/"):
                    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", query["ts"]), query
                    assert re.fullmatch(r"\d{8}", query["cb"]) and query["sid"] == "dsp-serving-1"
                    assert query["ip"] == "127.0.0.1" and query["ua"] == UA
                    assert query["x"] == "[UNKNOWNMACRO]"  # VAST 4.1 §6.1: unknown macros stay
            playheads = {p.rsplit("/", 1)[1]: q["ph"] for p, q, _ in ssp.hits if p.startswith("/t/")}
            assert playheads["impression"] == playheads["start"] == "00:00:00.000"
            assert playheads["midpoint"] == "00:00:07.500" and playheads["complete"] == "00:00:15.000"
            stats = app[TRACKERS].stats
            assert stats.duplicates >= 2 and stats.dropped == 0
            async with http.get(f"{base}/metrics") as resp:
                assert 'adgw_ssai_trackers_total{outcome="fired"}' in await resp.text()
    finally:
        await server.close()
        await ssp_server.close()
    # shutdown drained what was queued: the slow tracker's retries ended or were cut at 2 s
    assert not ssp.count("/slow/impression") > 3
    # /metrics counts exactly what this gateway did (the firing is over once it closed)
    stats = app[TRACKERS].stats
    fives = sum(n for status, n in stats.outcomes.items() if status.startswith("5"))
    assert {o: tracker_count(o) - before[o] for o in outcomes} == {
        "submitted": stats.submitted, "duplicate": stats.duplicates, "fired": stats.fired,
        "retried": stats.retried, "failed": stats.failed, "5xx": fives}
    assert stats.fired >= len(EVENTS) + 1 and stats.failed >= 1 and fives >= 3


async def test_programmatic_ad_without_hls_media_is_dropped_with_a_reason(tmp_path: Path, caplog) -> None:
    ssp = Ssp()
    ssp_server = TestServer(ssp.app(), host="127.0.0.1", port=ssp.port)
    await ssp_server.start_server()
    _, server, base = await _gateway(tmp_path, ssp)
    ssp.media, ssp.media_type = f"http://127.0.0.1:{ssp.port}/spot-hd.mp4", "video/mp4"  # no HLS rendition
    try:
        with caplog.at_level(logging.WARNING, logger="adgw.ssai"):
            async with aiohttp.ClientSession() as http:
                async with http.post(f"{base}/v1/sessions", json={"origin": f"{base}/demo/vod/master.m3u8",
                                                                  "sid": "tp-mp4"}) as resp:  # fmt: skip
                    session = await resp.json()
                async with http.get(session["tracking_url"]) as resp:
                    assert (await resp.json()) == {"avails": []}
                async with http.get(session["manifest_url"].replace("master.m3u8", "media/0.m3u8")) as resp:
                    assert "/seg/" not in await resp.text()
        assert any("no HLS MediaFile" in r.getMessage() for r in caplog.records), caplog.text
        assert not any(urlsplit(p).path.startswith("/t/") for p, _, _ in ssp.hits)
    finally:
        await server.close()
        await ssp_server.close()
