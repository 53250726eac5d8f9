"""The demo origin (contract: `/demo/`): fixture content, ads and slate from
fixtures/media, and a live stream that advances with the clock. Off with ADGW_DEMO=0."""

from __future__ import annotations

import mimetypes
import time

from aiohttp import web

from gateway.keys import SETTINGS
from gateway.problems import problem
from ssai import demo

HLS = "application/vnd.apple.mpegurl"


async def index(request: web.Request) -> web.Response:
    base = request.app[SETTINGS].base_url
    body = {
        "vod": f"{base}/demo/vod/master.m3u8",
        "live": f"{base}/demo/live/master.m3u8",
        "ads": {name: f"{base}/demo/ads/{name}/master.m3u8" for name in demo.AD_NAMES},
        "slate": f"{base}/demo/slate/master.m3u8",
        "try": f"{base}/v1/ssai/master.m3u8?origin={base}/demo/vod/master.m3u8&sid=demo",
    }
    return web.json_response(body)


async def live_master(request: web.Request) -> web.Response:
    return web.Response(text=demo.live_master(), content_type=HLS, headers={"Cache-Control": "max-age=60"})


async def live_media(request: web.Request) -> web.Response:
    variant = request.match_info["variant"]
    if not (variant.isascii() and variant.isdigit()) or not 0 <= int(variant) < len(demo.LADDER):
        return problem(404, "Not Found", f"no live variant {variant!r}", kind="no-such-variant")
    text = demo.live_playlist(time.time(), int(variant))
    return web.Response(text=text, content_type=HLS, headers={"Cache-Control": "max-age=1"})


def setup(app: web.Application) -> None:
    if not app[SETTINGS].demo:
        return
    # the static route takes its Content-Type from mimetypes, which lacks the HLS types
    mimetypes.add_type("video/mp2t", ".ts")
    mimetypes.add_type(HLS, ".m3u8")
    mimetypes.add_type("text/vtt", ".vtt")
    app.router.add_get("/demo/", index)
    app.router.add_get("/demo/live/master.m3u8", live_master)
    app.router.add_get(r"/demo/live/v{variant}.m3u8", live_media)
    # static files: aiohttp's static route refuses paths that escape the root
    app.router.add_static("/demo/", demo.media_root(), show_index=False, append_version=False)
