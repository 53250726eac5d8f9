"""Programmatic ads in a stitched break: the line item's third-party VAST tag resolved
(wrapper chain, through the guarded fetcher, as /v1/vast does) into what the stitcher and
the server-side tracker firing need: an HLS rendition and the ad's own trackers.

An InLine without an HLS MediaFile cannot be stitched (a progressive MP4 would need
transcoding); that ad is dropped with a logged reason and the rest of the pod plays.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import vast
from decision.pod import Pod
from decision.request import AdRequest
from gateway.adserving import wrapper_fetch
from gateway.fetch import Fetcher

log = logging.getLogger("adgw.ssai")

HLS_TYPES = frozenset({"application/x-mpegurl", "application/vnd.apple.mpegurl"})
# the events the gateway sees happen server-side (segment fetches), VAST 4.2 §3.14.1 names
FIRED_EVENTS = ("creativeView", "start", "firstQuartile", "midpoint", "thirdQuartile", "complete")
RESOLVE_BUDGET_S = 1.5


@dataclass(frozen=True, slots=True)
class ThirdPartyAd:
    hls_url: str
    duration_s: float | None
    ad_serving_id: str | None
    trackers: dict[str, tuple[str, ...]] = field(default_factory=dict)  # event -> URLs (impression too)


def _hls_file(linear: vast.Linear) -> vast.MediaFile | None:
    files = [m for m in linear.media_files if m.type.lower() in HLS_TYPES
             or (m.delivery == "streaming" and m.url.split("?", 1)[0].endswith(".m3u8"))]  # fmt: skip
    return max(files, key=lambda m: (m.bitrate or 0, m.width), default=None)


def third_party(ad: vast.Ad) -> ThirdPartyAd | str:
    """The stitchable view of a resolved InLine ad, or why it has none."""
    body = ad.body
    if not isinstance(body, vast.InLine):
        return "the tag did not resolve to an InLine ad"
    linear = next((c.linear for c in body.creatives if c.linear is not None), None)
    if linear is None:
        return "the ad has no Linear creative"
    media = _hls_file(linear)
    if media is None:
        types = sorted({m.type for m in linear.media_files}) or ["none"]
        return f"no HLS MediaFile (application/x-mpegURL) to stitch; has {', '.join(types)}"
    trackers: dict[str, list[str]] = {"impression": [i.url for i in body.impressions if i.url.strip()]}
    for t in linear.tracking:
        if t.event in FIRED_EVENTS and t.url.strip():
            trackers.setdefault(t.event, []).append(t.url.strip())
    return ThirdPartyAd(media.url.strip(), linear.duration, body.ad_serving_id,
                        {k: tuple(v) for k, v in trackers.items() if v})  # fmt: skip


async def resolve_pod(fetcher: Fetcher, pod: Pod, request: AdRequest, *, fire: Callable[[str], object] | None = None,
                      budget_s: float = RESOLVE_BUDGET_S) -> tuple[dict[str, ThirdPartyAd], list[tuple[str, str]]]:  # fmt: skip
    """(imp_id -> resolved ad, [(imp_id, reason dropped)]) for the pod's programmatic ads.
    `fire` sends the Error URLs of failed chains (the server-side tracker queue)."""
    tagged = [ad for ad in pod.ads if ad.creative.vast_tag_url]
    if not tagged:
        return {}, []
    resolver = vast.WrapperResolver(wrapper_fetch(fetcher), fire=fire,
                                    policy=vast.WrapperPolicy(total_timeout_s=budget_s))  # fmt: skip

    async def one(ad) -> tuple[str, ThirdPartyAd | str]:
        try:
            resolution = await resolver.resolve_url(ad.creative.vast_tag_url, device_ip=request.ip,
                                                    device_ua=request.ua, allow_multiple_ads=False)  # fmt: skip
        except vast.VastError as exc:
            return ad.imp_id, f"programmatic tag failed: VAST error {getattr(exc, 'code', 900)}: {exc}"
        if not resolution.ads:
            return ad.imp_id, "programmatic tag returned no ad (303)"
        return ad.imp_id, third_party(resolution.ads[0])

    resolved: dict[str, ThirdPartyAd] = {}
    dropped: list[tuple[str, str]] = []
    for imp_id, outcome in await asyncio.gather(*(one(ad) for ad in tagged)):
        if isinstance(outcome, str):
            log.warning("programmatic ad %s left out of the break: %s", imp_id, outcome)
            dropped.append((imp_id, outcome))
        else:
            resolved[imp_id] = outcome
    return resolved, dropped


def trackers_json(ad: ThirdPartyAd) -> Mapping[str, list[str]]:
    return {k: list(v) for k, v in ad.trackers.items()}


__all__ = ["FIRED_EVENTS", "ThirdPartyAd", "resolve_pod", "third_party", "trackers_json"]
