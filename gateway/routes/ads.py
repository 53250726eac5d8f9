"""GET /v1/vast and GET /v1/vmap (contract: client-side insertion)."""

from __future__ import annotations

from urllib.parse import urlencode

import orjson
from aiohttp import web

import vast
from decision.pod import BreakSpec
from decision.request import AdRequest, parse_ad_request
from gateway.admin import admin_denied
from gateway.adserving import TAG_CACHE, serve_breaks, trace_json
from gateway.geo import GEO, with_geo
from gateway.keys import SETTINGS
from gateway.peers import client_ip

XML = "application/xml"
VMAP_ONLY = ("cdur", "cues", "pre", "post", "inline")


def _request(request: web.Request) -> AdRequest:
    settings = request.app[SETTINGS]
    parsed = parse_ad_request(request.query, ua_header=request.headers.get("User-Agent"),
                              ip_fallback=client_ip(request, settings.trusted_proxies))
    return with_geo(parsed, request.app[GEO])


def _debug_denied(request: web.Request, ad_request: AdRequest) -> web.Response | None:
    return admin_denied(request) if ad_request.debug else None


async def get_vast(request: web.Request) -> web.Response:
    ad_request = _request(request)
    if (denied := _debug_denied(request, ad_request)) is not None:
        return denied
    # VAST 2.0 has no ad pods (sequence came in 3.0): a player takes one ad from it
    max_ads = 1 if ad_request.vast_version == "2.0" else ad_request.max_ads
    spec = BreakSpec("b1", ad_request.duration_s, ad_request.position, max_ads=max_ads)
    served = await serve_breaks(request.app, ad_request, [spec], trace=ad_request.debug)
    if ad_request.debug:
        return web.Response(body=orjson.dumps({"breaks": trace_json(served)}), content_type="application/json")
    body = vast.render(served[0].document, ad_request.vast_version)
    return web.Response(text=body, content_type=XML, headers={"Cache-Control": "no-store"})


def _offset(seconds: float) -> str:
    millis = round(seconds * 1000)
    h, rem = divmod(millis, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def vmap_breaks(ad_request: AdRequest) -> list[tuple[str, BreakSpec]]:
    """(VMAP timeOffset, break) for pre-roll, mid-rolls at `cues`, post-roll. With none
    asked for, a single pre-roll (what a player asking for a VMAP without cues expects)."""
    pre = ad_request.pre or not (ad_request.cues or ad_request.post)
    out: list[tuple[str, BreakSpec]] = []
    if pre:
        out.append(("start", BreakSpec("preroll", ad_request.duration_s, "pre", 0.0, ad_request.max_ads)))
    cdur = ad_request.content_duration_s
    for i, cue in enumerate(c for c in ad_request.cues if cdur is None or c < cdur):
        out.append((_offset(cue), BreakSpec(f"midroll-{i + 1}", ad_request.duration_s, "mid", cue, ad_request.max_ads)))
    if ad_request.post:
        out.append(("end", BreakSpec("postroll", ad_request.duration_s, "post", cdur, ad_request.max_ads)))
    return out


async def get_vmap(request: web.Request) -> web.Response:
    ad_request = _request(request)
    if (denied := _debug_denied(request, ad_request)) is not None:
        return denied
    breaks = vmap_breaks(ad_request)
    settings = request.app[SETTINGS]
    if ad_request.inline or ad_request.debug:
        served = await serve_breaks(request.app, ad_request, [spec for _, spec in breaks], trace=ad_request.debug)
        if ad_request.debug:
            return web.Response(body=orjson.dumps({"breaks": trace_json(served)}), content_type="application/json")
        sources = [vast.AdSource(vast_ad_data=s.document, id=str(i + 1), allow_multiple_ads=True)
                   for i, s in enumerate(served)]
    else:
        base = {k: v for k, v in request.query.items() if k not in VMAP_ONLY}
        sources = []
        for i, (_, spec) in enumerate(breaks):
            query = urlencode({**base, "pos": spec.position, "dur": f"{spec.duration_s:g}"})
            # VMAP 1.0 types AdSource@id as xs:integer
            sources.append(vast.AdSource(ad_tag_uri=vast.AdTagURI(f"{settings.base_url}/v1/vast?{query}"),
                                         id=str(i + 1), allow_multiple_ads=True))
    document = vast.VMAP(ad_breaks=tuple(
        vast.AdBreak(time_offset=offset, break_type="linear", break_id=spec.break_id, ad_source=source)
        for (offset, spec), source in zip(breaks, sources, strict=True)
    ))
    return web.Response(text=vast.render_vmap(document), content_type=XML, headers={"Cache-Control": "no-store"})


def setup(app: web.Application) -> None:
    # resolved third-party tags are shared for a short TTL: a tag URL answers alike for
    # seconds, and a hot line item must not fetch its wrapper chain on every request
    app[TAG_CACHE] = vast.TagCache(ttl_s=10.0)
    app.router.add_get("/v1/vast", get_vast)
    app.router.add_get("/v1/vmap", get_vmap)
