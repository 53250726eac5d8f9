"""Client-side tracking JSON (CONTRACT.md `/v1/sessions/{id}/tracking`, MediaTailor's
shape) and server-side progress: which beacons fire when an ad segment is fetched.

Both read the same `Plan` as the stitcher, so the times agree with the manifest.
"""

from __future__ import annotations

from collections.abc import Mapping

from ssai.plan import AdMedia, Plan
from ssai.rendition import Target, choose

QUARTILES = (("firstQuartile", 0.25), ("midpoint", 0.5), ("thirdQuartile", 0.75))


def _urls(ad: AdMedia, event: str) -> list[str]:
    return [u for t in ad.tracking if t.event == event for u in t.urls]


def _events(ad: AdMedia, start: float) -> list[dict]:
    d = ad.duration_s
    timeline = [("impression", 0.0), ("start", 0.0), *((n, f * d) for n, f in QUARTILES), ("complete", d)]
    return [{"eventType": n, "startTimeInSeconds": round(start + t, 3), "beaconUrls": _urls(ad, n)} for n, t in timeline]


def tracking_json(plan: Plan, starts: Mapping[str, float] | None = None, live: bool = False) -> dict:
    """`{"avails": [...]}`. VOD times are on the stitched timeline (each inserted avail
    shifts the content after it); live callers pass `starts` (avail id -> player time)."""
    avails, shift = [], 0.0
    for avail in sorted(plan.avails, key=lambda a: a.brk.start_time):
        if not avail.filled or not avail.ads:
            continue
        if starts is not None and avail.id in starts:
            begin = starts[avail.id]
        else:
            begin = avail.brk.start_time + (0.0 if live else shift)
        ads, t = [], begin
        for ad in avail.ads:
            if ad.kind == "ad":
                ads.append({"adId": ad.ad_id, "creativeId": ad.creative_id or ad.ad_id,
                            "startTimeInSeconds": round(t, 3), "durationInSeconds": round(ad.duration_s, 3),
                            "trackingEvents": _events(ad, t)})  # fmt: skip
            t += ad.duration_s
        avails.append({"availId": avail.id, "startTimeInSeconds": round(begin, 3),
                       "durationInSeconds": round(t - begin, 3), "ads": ads})  # fmt: skip
        shift += t - begin
    return {"avails": avails}


def progress_events(ad: AdMedia, segment_index: int, target: Target | None = None) -> tuple[str, ...]:
    """The events a fetch of ad segment `segment_index` (in `target`'s variant) fires:
    impression and start with the first segment, each quartile with the segment holding it,
    complete with the last. Beacon dedup makes refetches harmless."""
    variant = choose(ad, target or Target())
    if variant is None:
        return ()
    segments = variant.segments
    if not 0 <= segment_index < len(segments):
        return ()
    seg = segments[segment_index]
    total = variant.duration
    out: list[str] = []
    if segment_index == 0:
        out += ["impression", "start"]
    for name, fraction in QUARTILES:
        if seg.start <= fraction * total < seg.end:
            out.append(name)
    if segment_index == len(segments) - 1:
        out.append("complete")
    return tuple(out)
