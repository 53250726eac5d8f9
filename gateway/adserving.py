"""Client-side ad serving: decide → sign tracking → resolve programmatic tags → VAST.

Shared by /v1/vast and /v1/vmap so a VMAP decides all its breaks in one engine call
(caps and competitive separation hold across them) and every break is rendered the
same way as a stand-alone VAST answer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from aiohttp import web

import vast
from beacons.tokens import TokenSigner, claims_for_ad, context_from_request, tracking_urls
from decision.caps import release_reservation
from decision.pod import BreakSpec, Pod
from decision.request import AdRequest
from gateway.fetch import Fetcher, FetchError, FetchRefused, FetchTimeout
from gateway.keys import SETTINGS, STORE
from gateway.services import FETCHER, SIGNER, decide

log = logging.getLogger("adgw.ads")

# every VAST tracking event we mint a beacon URL for; the renderer keeps only those the
# requested version knows (VAST 2.0 has no `loaded`, …). `progress` needs an offset per
# URL, so it is left to the player's own progress trackers.
TRACKED_EVENTS = ("impression", "creativeView", "start", "firstQuartile", "midpoint", "thirdQuartile",
                  "complete", "pause", "resume", "mute", "unmute", "skip", "closeLinear", "click", "error",
                  "loaded")
PROGRAMMATIC_BUDGET_S = 1.2  # of the request's time: a late third-party tag is dropped, not waited for
TAG_CACHE: web.AppKey[vast.TagCache] = web.AppKey("vast_tag_cache", vast.TagCache)


@dataclass(frozen=True, slots=True)
class ServedBreak:
    pod: Pod
    document: vast.VAST
    dropped: tuple[tuple[str, str], ...] = ()  # (imp_id, reason) of programmatic ads that did not resolve


def wrapper_fetch(fetcher: Fetcher):
    """The vast resolver's `fetch(url, headers, timeout) -> bytes` over our guarded fetcher."""

    async def fetch(url: str, headers: Mapping[str, str], timeout: float) -> bytes:
        try:
            result = await fetcher.get(url, headers=dict(headers), timeout=timeout)
        except FetchRefused as exc:
            raise vast.FetchRefused(str(exc)) from None
        except FetchTimeout:
            raise TimeoutError(url) from None
        except FetchError as exc:
            raise vast.FetchFailed(str(exc)) from None
        if result.status != 200:
            raise vast.FetchFailed(f"HTTP {result.status} from the tag URL")
        return result.body

    return fetch


def beacon_urls(pod: Pod, request: AdRequest, signer: TokenSigner, base_url: str, now: float,
                source: str = "client") -> dict[str, dict[str, list[str]]]:
    context = context_from_request(request, source=source)
    out: dict[str, dict[str, list[str]]] = {}
    for ad in pod.ads:
        token = signer.sign(claims_for_ad(ad, pod_id=pod.pod_id, start_s=now + ad.offset_s, context=context,
                                          signer=signer))
        out[ad.imp_id] = {event: [url] for event, url in tracking_urls(base_url, token, TRACKED_EVENTS).items()}
    return out


async def _resolve_programmatic(app: web.Application, pod: Pod, request: AdRequest
                                ) -> tuple[dict[str, vast.Ad], list[tuple[str, str]]]:
    tagged = [ad for ad in pod.ads if ad.creative.vast_tag_url]
    if not tagged:
        return {}, []
    fetcher = app[FETCHER]
    resolver = vast.WrapperResolver(wrapper_fetch(fetcher), fire=None, cache=app[TAG_CACHE],
                                    policy=vast.WrapperPolicy(total_timeout_s=PROGRAMMATIC_BUDGET_S))

    async def one(ad):
        try:
            resolution = await resolver.resolve_url(ad.creative.vast_tag_url, device_ip=request.ip,
                                                    device_ua=request.ua, allow_multiple_ads=False)
        except vast.VastError as exc:
            return ad.imp_id, None, f"programmatic tag failed: VAST error {getattr(exc, 'code', 900)}"
        if not resolution.ads:
            return ad.imp_id, None, "programmatic tag returned no ad (303)"
        return ad.imp_id, resolution.ads[0], None

    resolved, dropped = {}, []
    for imp_id, inline, reason in await asyncio.gather(*(one(ad) for ad in tagged)):
        if inline is None:
            dropped.append((imp_id, reason))
        else:
            resolved[imp_id] = inline
    return resolved, dropped


async def serve_breaks(app: web.Application, request: AdRequest, specs: Sequence[BreakSpec], *,
                       trace: bool = False) -> list[ServedBreak]:
    settings = app[SETTINGS]
    signer = app[SIGNER]
    pods = await decide(app, request, list(specs), trace=trace)
    now = time.time()
    out = []
    for pod in pods:
        resolved, dropped = await _resolve_programmatic(app, pod, request)
        if dropped:
            # an ad that will not play must not hold its frequency-cap reservation
            await asyncio.gather(*(release_reservation(app[STORE], imp) for imp, _ in dropped))
            gone = {imp for imp, _ in dropped}
            kept = tuple(ad for ad in pod.ads if ad.imp_id not in gone)
            pod = replace(pod, ads=tuple(replace(ad, sequence=i + 1) for i, ad in enumerate(kept)))
        tracking = beacon_urls(pod, request, signer, settings.base_url, now)
        document = vast.pod_to_vast(pod, tracking=tracking, resolved=resolved, version=request.vast_version,
                                    base_url=settings.base_url)
        out.append(ServedBreak(pod, document, tuple(dropped)))
    return out


def trace_json(served: Sequence[ServedBreak]) -> list[dict]:
    return [{
        "pod_id": s.pod.pod_id, "break": s.pod.break_spec.break_id, "solver": s.pod.solver,
        "model_tier": s.pod.fallback_tier,
        "ads": [{"imp_id": a.imp_id, "line_item": a.line_item_id, "creative": a.creative.id,
                 "price_micros": a.price_micros, "tier": a.tier, "duration_s": a.creative.duration_s}
                for a in s.pod.ads],
        "programmatic_dropped": [{"imp_id": i, "reason": r} for i, r in s.dropped],
        "trace": s.pod.trace,
    } for s in served]
