"""Render time of a 4-ad VAST 4.2 pod with full tracking, beside lxml element building of
the same pod in the same run (the approach the string renderer replaced).

    .venv/bin/python bench/vast_render.py [--iterations N]

Prints median and p99 in microseconds. Asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from decision.pod import BreakSpec, Creative, MediaRendition, PlacedAd, Pod  # noqa: E402
from vast import VAST, Verification, pod_to_vast, render  # noqa: E402
from vast.model import JavaScriptResource, Tracking  # noqa: E402

BASE = "https://adgw.example.com"
EVENTS = ("loaded", "creativeView", "start", "firstQuartile", "midpoint", "thirdQuartile",
          "complete", "pause", "resume", "mute", "unmute", "skip", "closeLinear")


def _token(imp: str, event: str) -> str:
    return f"k1.{imp}.{event}.eyJleHAiOjE3MzAwMDAwMDAsInBvZCI6InBvZC0xIn0.c2lnbmF0dXJlLWJ5dGVz"


def bench_pod() -> tuple[VAST, Pod]:
    ads = []
    for i in range(1, 5):
        creative = Creative(
            id=f"cr-{i}", duration_s=15.0, advertiser_domain="brand.example",
            iab_category="IAB2", universal_ad_id=f"ABCD{i:04d}000H", title=f"Spot {i}",
            click_through=f"https://brand.example/landing?c={i}",
            mezzanine=MediaRendition(url=f"/media/cr-{i}/mezzanine.mp4", width=1920, height=1080),
            media=tuple(MediaRendition(url=f"/media/cr-{i}/{h}p.mp4", width=w, height=h,
                                       bitrate_kbps=b, codec="avc1.640028")
                        for w, h, b in ((1920, 1080, 4500), (1280, 720, 2000), (640, 360, 600))),
        )
        ads.append(PlacedAd(imp_id=f"imp-{i:04d}-7f3a9c", sequence=i, line_item_id=f"li-{i}",
                            campaign_id="c-1", advertiser_id="adv-1", creative=creative,
                            price_micros=12_500_000, tier="standard", offset_s=15.0 * (i - 1)))
    pod = Pod(pod_id="pod-1", break_spec=BreakSpec(break_id="b1", duration_s=60), ads=tuple(ads))
    ids = [a.imp_id for a in ads]
    tracking = {imp: {e: [f"{BASE}/v1/b/{e}?t={_token(imp, e)}&ts=[TIMESTAMP]"] for e in EVENTS}
                for imp in ids}
    verification = Verification(
        vendor="iabtechlab.com-omid",
        javascript_resources=(JavaScriptResource("https://verify.example/omid.js", "omid", True),),
        tracking=(Tracking("verificationNotExecuted",
                           "https://verify.example/ne?reason=[REASON]"),),
        parameters='{"pid":"adgw","cid":"c-1"}')
    vast = pod_to_vast(
        pod,
        tracking=tracking,
        impression_urls={imp: [f"{BASE}/v1/b/impression?t={_token(imp, 'impression')}",
                               "https://third.example/imp?cb=[CACHEBUSTING]"] for imp in ids},
        error_urls={imp: [f"{BASE}/v1/b/error?t={_token(imp, 'error')}&code=[ERRORCODE]"]
                    for imp in ids},
        click_urls={imp: [f"{BASE}/v1/b/click?t={_token(imp, 'click')}"] for imp in ids},
        verifications={imp: [verification] for imp in ids},
        version="4.2",
        base_url="https://cdn.example.com",
    )
    return vast, pod


def lxml_render(vast: VAST) -> bytes:
    """The same 4.2 document built element by element with lxml."""
    ns = "http://www.iab.com/VAST"
    E = etree.SubElement

    def url(parent, tag, value, **attrs):
        el = E(parent, tag, {k: v for k, v in attrs.items() if v is not None})
        el.text = etree.CDATA(value)
        return el

    root = etree.Element("VAST", {"version": "4.2"}, nsmap={None: ns})
    for ad in vast.ads:
        b = ad.body
        a = E(root, "Ad", {"id": ad.id, "sequence": str(ad.sequence)})
        il = E(a, "InLine")
        E(il, "AdSystem").text = b.ad_system.name
        for e in b.errors:
            url(il, "Error", e)
        for imp in b.impressions:
            url(il, "Impression", imp.url, id=imp.id)
        E(il, "AdServingId").text = b.ad_serving_id
        E(il, "AdTitle").text = b.ad_title
        av = E(il, "AdVerifications")
        for v in b.verifications:
            ve = E(av, "Verification", {"vendor": v.vendor})
            for j in v.javascript_resources:
                url(ve, "JavaScriptResource", j.url, apiFramework=j.api_framework,
                    browserOptional="true")
            te = E(ve, "TrackingEvents")
            for t in v.tracking:
                url(te, "Tracking", t.url, event=t.event)
            E(ve, "VerificationParameters").text = etree.CDATA(v.parameters)
        if b.advertiser:
            E(il, "Advertiser").text = b.advertiser
        for c in b.categories:
            E(il, "Category", {"authority": c.authority}).text = c.value
        cs = E(il, "Creatives")
        for c in b.creatives:
            ce = E(cs, "Creative", {"id": c.id, "sequence": str(c.sequence)})
            lin = c.linear
            le = E(ce, "Linear")
            te = E(le, "TrackingEvents")
            for t in lin.tracking:
                url(te, "Tracking", t.url, event=t.event)
            E(le, "Duration").text = "00:00:15.000"
            mf = E(le, "MediaFiles")
            for m in lin.media_files:
                url(mf, "MediaFile", m.url, delivery=m.delivery, type=m.type, width=str(m.width),
                    height=str(m.height), codec=m.codec, bitrate=str(m.bitrate))
            for z in lin.mezzanines:
                url(mf, "Mezzanine", z.url, delivery=z.delivery, type=z.type, width=str(z.width),
                    height=str(z.height))
            vc = E(le, "VideoClicks")
            for ck in lin.click_tracking:
                url(vc, "ClickTracking", ck.url)
            if lin.click_through:
                url(vc, "ClickThrough", lin.click_through.url)
            for u in c.universal_ad_ids:
                E(ce, "UniversalAdId", {"idRegistry": u.id_registry}).text = u.value
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def measure(fn, iterations: int) -> tuple[float, float]:
    samples = []
    for _ in range(min(200, iterations // 10)):
        fn()
    for _ in range(iterations):
        t0 = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - t0) / 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=5000)
    args = parser.parse_args()
    vast, pod = bench_pod()
    doc = render(vast, "4.2")
    counts = {k: doc.count(f"<{k}") for k in ("Ad ", "Impression", "Tracking ", "Error",
                                               "ClickTracking", "Verification ", "MediaFile ")}
    print(f"pod: {len(vast.ads)} ads, {len(doc)} bytes, elements {counts}")
    med, p99 = measure(lambda: render(vast, "4.2"), args.iterations)
    print(f"vast.render (4.2, string templates):   median {med:8.1f} us   p99 {p99:8.1f} us")
    med_p, p99_p = measure(lambda: render(pod_to_vast_args(vast, pod), "4.2"), args.iterations)
    print(f"pod_to_vast + render:                  median {med_p:8.1f} us   p99 {p99_p:8.1f} us")
    lx_med, lx_p99 = measure(lambda: lxml_render(vast), max(500, args.iterations // 5))
    print(f"lxml element building (same pod):      median {lx_med:8.1f} us   p99 {lx_p99:8.1f} us")
    print(f"speed-up over lxml (median): {lx_med / med:.1f}x")


_ARGS: dict = {}


def pod_to_vast_args(vast: VAST, pod: Pod) -> VAST:
    if not _ARGS:
        ids = [a.imp_id for a in pod.ads]
        _ARGS.update(
            tracking={imp: {e: [f"{BASE}/v1/b/{e}?t={_token(imp, e)}"] for e in EVENTS}
                      for imp in ids},
            impression_urls={imp: [f"{BASE}/v1/b/impression?t={_token(imp, 'impression')}"]
                             for imp in ids},
            error_urls={imp: [f"{BASE}/v1/b/error?t=x&code=[ERRORCODE]"] for imp in ids},
            click_urls={imp: [f"{BASE}/v1/b/click?t=x"] for imp in ids},
        )
    return pod_to_vast(pod, version="4.2", base_url="https://cdn.example.com", **_ARGS)


if __name__ == "__main__":
    main()
