"""Server-side progress beacons: fetching an ad's segments through /seg/ feeds the beacon
intake (impression and start with the first segment, complete with the last), so the
player's own beacon for the same event is then a duplicate. In-process app, real HTTP."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from gateway.app import create_app
from gateway.config import Settings
from tests.e2e_ssai.helpers import ad_blocks
from tests.support.services import free_port

pytestmark = pytest.mark.e2e


async def test_segment_fetches_fire_server_side_beacons(tmp_path: Path) -> None:
    port = free_port()
    settings = Settings(host="127.0.0.1", port=port, public_url=f"http://127.0.0.1:{port}",
                        spool_dir=tmp_path / "spool")  # fmt: skip
    app = create_app(settings)
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    base = settings.base_url
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{base}/v1/sessions", json={"origin": f"{base}/demo/vod/master.m3u8",
                                                              "sid": "beacon-device"}) as resp:  # fmt: skip
                assert resp.status == 201, await resp.text()
                session = await resp.json()
            async with http.get(session["manifest_url"].replace("master.m3u8", "media/1.m3u8")) as resp:
                text = await resp.text()
            async with http.get(session["tracking_url"]) as resp:
                tracking = await resp.json()
            first = ad_blocks(text)[0]
            ad = tracking["avails"][0]["ads"][0]
            assert (first.avail, first.ad) == (tracking["avails"][0]["availId"], ad["adId"])
            urls = {e["eventType"]: e["beaconUrls"][0] for e in ad["trackingEvents"]}
            seg_urls = [line for line in text.splitlines() if f"/seg/{first.avail}/{first.ad}/" in line]
            assert len(seg_urls) == len(first.segments) >= 2
            for url in (seg_urls[0], seg_urls[-1]):
                async with http.get(url, allow_redirects=False) as resp:
                    assert resp.status == 302

            async def beacon(event: str) -> tuple[int, str | None]:
                async with http.get(urls[event].replace("[TIMESTAMP]", "-1")) as resp:
                    return resp.status, resp.headers.get("X-Adgw-Duplicate")

            # fired by the gateway when the first and the last segment were fetched
            assert await beacon("impression") == (204, "1")
            assert await beacon("start") == (204, "1")
            assert await beacon("complete") == (204, "1")
            # the midpoint's segment was never fetched: the player's beacon is the first one
            assert await beacon("midpoint") == (204, None)
    finally:
        await server.close()
