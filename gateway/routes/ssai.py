"""Server-side insertion (contract: "Server-side insertion (HLS)"): sessions, the
multivariant and stitched media playlists, ad segment redirects with server-side
progress beacons, tracking JSON, and HLS Interstitials asset lists. The work is in
gateway/ssai_service.py; these handlers parse the request and write the answer.

Fill policy, per session (`POST /v1/sessions` JSON fields; a bad one is a 400 naming it):
- `slate`: URL of a slate playlist (multivariant or media) that fills live avails past
  their ads; default the demo slate while the demo origin is on, else none.
- `personalization_threshold_s`: seconds (>= 0). When a break's ads and bumpers leave more
  than this unfilled, the break is abandoned and its content plays (VOD: nothing is
  inserted; live: the origin's own content runs through the avail).
- `bumpers`: `{"start": URL, "end": URL}` (either may be left out): playlists played before
  and after the ads of every filled break; their length is taken from the ads' room.
- `live_preroll_s`: seconds (0 < s <= 300). A live session gets a break at its start: it
  replaces that much content from where a player joining the session's first playlist
  starts (three target durations from the live edge, RFC 8216 §6.3.3).
The implicit `GET /v1/ssai/master.m3u8` takes the same names in its query, but `bumpers`.

Ads with their own trackers (programmatic line items, resolved from their VAST tag) have
those fired by the gateway when a segment fetch shows the event (gateway/ssai_firing.py).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import orjson
from aiohttp import web

import vast
from beacons.validate import RawBeacon
from gateway.geo import GEO
from gateway.keys import SETTINGS, STORE
from gateway.peers import client_ip
from gateway.problems import problem
from gateway.routes.beacons import PIPELINE
from gateway.services import FETCHER, SIGNER, decide
from gateway.ssai_decisions import session_params
from gateway.ssai_firing import TrackerFiring, firings
from gateway.ssai_service import SegmentHit, SsaiService, decode_id
from ssai.session import DEFAULT_TTL_S, Sessions
from store import StoreError

log = logging.getLogger("adgw.ssai")

HLS = "application/vnd.apple.mpegurl"
SSAI: web.AppKey[SsaiService] = web.AppKey("ssai", SsaiService)
TRACKERS: web.AppKey[TrackerFiring] = web.AppKey("ssai_trackers", TrackerFiring)
QUARTILE_AT = {"impression": 0.0, "start": 0.0, "firstQuartile": 0.25, "midpoint": 0.5, "thirdQuartile": 0.75,
               "complete": 1.0}  # fmt: skip

EMPTY_WEBVTT = "WEBVTT\n\n"


# ---------------------------------------------------------------------------- server-side beacons


def _beacon_pipeline(app: web.Application):
    """The beacon pipeline the beacons route module opened (None while starting up)."""
    return app.get(PIPELINE)


async def emit_progress(app: web.Application, token: str, event: str, *, ip: str | None = None,
                        ua: str | None = None) -> bool:  # fmt: skip
    """Feed one server-side progress beacon (source=ssai, inside the token) to the beacon
    intake, as if the player had fired it; False when there is no intake or it refused.
    Never raises: a lost progress beacon must not fail the segment redirect."""
    pipeline = _beacon_pipeline(app)
    if pipeline is None:
        return False
    raw = RawBeacon(event=event, token=token, ts=str(int(time.time() * 1000)), ua=ua, ip=ip)
    try:
        verdict = await pipeline.intake.accept(raw)
    except Exception:  # noqa: BLE001 - logged; the player still gets its segment
        log.exception("server-side %s beacon failed", event)
        return False
    if not verdict.ok:
        log.warning("server-side %s beacon refused: %s %s", event, verdict.status, verdict.reason)
    return verdict.ok


def fire_trackers(app: web.Application, params: dict, key: str, hit: SegmentHit, ip: str | None,
                  ua: str | None) -> None:  # fmt: skip
    """Queue the ad's own trackers for the events this fetch fired (never waits)."""
    if not hit.trackers or not hit.events:
        return
    now = datetime.now(UTC)

    def macros(event: str) -> vast.MacroContext:
        return vast.MacroContext(
            now=now, device_ip=ip, device_ua=ua, ifa=params.get("ifa"), ad_serving_id=hit.ad_serving_id,
            asset_uri=hit.asset_uri, content_id=params.get("cid"), gdpr_consent=params.get("gdpr_consent"),
            limit_ad_tracking=params.get("lmt") == "1" if "lmt" in params else None,
            ad_playhead=QUARTILE_AT.get(event, 0.0) * hit.duration_s,
            extra={"US_PRIVACY": params.get("us_privacy")} if params.get("us_privacy") else {},
        )  # fmt: skip

    queue = app[TRACKERS]
    for firing in firings(hit.trackers, hit.events, macros, ip=ip, ua=ua, key=key):
        queue.submit(firing)


# ---------------------------------------------------------------------------- handlers


def _service(request: web.Request) -> SsaiService:
    return request.app[SSAI]


def _client(request: web.Request) -> tuple[str | None, str | None]:
    return client_ip(request, request.app[SETTINGS].trusted_proxies), request.headers.get("User-Agent")


def _hls(text: str, live: bool = False) -> web.Response:
    cache = "no-cache" if live else "private, max-age=60"
    return web.Response(text=text, content_type=HLS, headers={"Cache-Control": cache})


async def _create(request: web.Request, raw: dict) -> tuple[SsaiService, object]:
    service = _service(request)
    ip, ua = _client(request)
    params = session_params(raw, ua=ua, ip=ip, fetcher=service.fetcher, geo=request.app[GEO])
    return service, await service.create(params)


async def create_session(request: web.Request) -> web.Response:
    try:
        raw = orjson.loads(await request.read())
    except orjson.JSONDecodeError as exc:
        return problem(400, "Bad Request", f"the body is not JSON: {exc}", kind="invalid-json")
    if not isinstance(raw, dict):
        return problem(400, "Bad Request", "the body must be a JSON object", kind="invalid-json")
    service, record = await _create(request, raw)
    body = {"session_id": record.id, "manifest_url": service.session_url(record.id, "master.m3u8"),
            "tracking_url": service.session_url(record.id, "tracking")}  # fmt: skip
    return web.Response(status=201, body=orjson.dumps(body), content_type="application/json",
                        headers={"Location": body["manifest_url"]})  # fmt: skip


async def implicit_master(request: web.Request) -> web.Response:
    service, record = await _create(request, dict(request.query))
    response = _hls(await service.master(record))
    response.headers["X-Adgw-Session-Id"] = record.id
    response.headers["Cache-Control"] = "no-store"
    return response


async def master(request: web.Request) -> web.Response:
    service = _service(request)
    record = await service.session(request.match_info["id"])
    return _hls(await service.master(record))


async def media(request: web.Request) -> web.Response:
    service = _service(request)
    record = await service.session(request.match_info["id"])
    text, live = await service.media(record, int(request.match_info["n"]))
    return _hls(text, live)


async def segment(request: web.Request) -> web.Response:
    service = _service(request)
    info = request.match_info
    record = await service.session(info["id"])
    variant = request.query.get("v", "0")
    if not (variant.isascii() and variant.isdigit()) or len(variant) > 4:
        return problem(400, "Bad Request", "v must be a variant number", kind="invalid-parameter", param="v")
    avail, ad, index = decode_id(info["avail"]), decode_id(info["ad"]), int(info["seg"])
    hit = await service.segment(record, avail, ad, index, int(variant))
    await service.record_progress(record, avail, ad, index)
    ip, ua = _client(request)
    fire_trackers(request.app, record.params, f"sess:{record.id}:fired:{avail}/{ad}", hit, ip, ua)
    for event in hit.events:
        await emit_progress(request.app, hit.token, event, ip=ip, ua=ua)
    # returned, not raised: the middleware would hand back the exception object itself
    return web.Response(status=302, headers={"Location": hit.url, "Cache-Control": "no-store"})


async def tracking(request: web.Request) -> web.Response:
    service = _service(request)
    record = await service.session(request.match_info["id"])
    body = await service.tracking(record)
    return web.Response(body=orjson.dumps(body), content_type="application/json",
                        headers={"Cache-Control": "no-cache"})  # fmt: skip


async def assets(request: web.Request) -> web.Response:
    service = _service(request)
    record = await service.session(request.match_info["id"])
    body = await service.assets(record, decode_id(request.match_info["avail"]))
    return web.Response(body=orjson.dumps(body), content_type="application/json")


async def gap(request: web.Request) -> web.Response:
    """The empty WebVTT segment played in subtitle renditions over the ads."""
    return web.Response(text=EMPTY_WEBVTT, content_type="text/vtt", headers={"Cache-Control": "max-age=86400"})


# ---------------------------------------------------------------------------- wiring


def _guarded(handler):
    """Sessions live in the store: while it is away the answer is 503, not a 500."""

    @functools.wraps(handler)
    async def guarded(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except StoreError as exc:
            log.warning("SSAI session store unavailable: %s", exc)
            return problem(503, "Service Unavailable", "the session store is unavailable", kind="store-unavailable",
                           headers={"Retry-After": "1"})  # fmt: skip

    return guarded


async def ssai_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    base = settings.base_url
    store = app[STORE]

    async def claim(key: str) -> bool:
        return await store.set_if_absent(key, "1", DEFAULT_TTL_S)

    trackers = TrackerFiring(app[FETCHER], claim=claim)
    await trackers.start()
    app[TRACKERS] = trackers
    app[SSAI] = SsaiService(sessions=Sessions(store), store=store, fetcher=app[FETCHER], signer=app[SIGNER],
                            decide=functools.partial(decide, app), base_url=base,
                            slate_url=f"{base}/demo/slate/master.m3u8" if settings.demo else None,
                            fire_error_url=trackers.fire_url)  # fmt: skip
    yield
    await trackers.close(drain_s=2.0)


def setup(app: web.Application) -> None:
    app.cleanup_ctx.append(ssai_ctx)

    def add(method: str, path: str, handler) -> None:
        app.router.add_route(method, path, _guarded(handler))

    add("POST", "/v1/sessions", create_session)
    add("GET", "/v1/ssai/master.m3u8", implicit_master)
    add("GET", "/v1/ssai/gap.vtt", gap)
    add("GET", "/v1/sessions/{id}/master.m3u8", master)
    add("GET", r"/v1/sessions/{id}/media/{n:\d{1,4}}.m3u8", media)
    add("GET", r"/v1/sessions/{id}/seg/{avail}/{ad}/{seg:\d{1,6}}{ext:(\.[A-Za-z0-9]{1,5})?}", segment)
    add("GET", "/v1/sessions/{id}/tracking", tracking)
    add("GET", "/v1/sessions/{id}/assets/{avail}.json", assets)
