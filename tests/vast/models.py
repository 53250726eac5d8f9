"""Hand-built models the tests render: a full pod (through `pod_to_vast`, as the gateway
builds it), a wrapper ad, no-fill responses and a document of hostile strings."""

from __future__ import annotations

from decision.pod import BreakSpec, HlsVariant, MediaRendition, PlacedAd, Pod
from decision.pod import Creative as PodCreative
from vast import (
    VAST,
    Ad,
    AdSystem,
    ClickThrough,
    ClickTracking,
    Creative,
    Impression,
    InLine,
    JavaScriptResource,
    Linear,
    MediaFile,
    Mezzanine,
    RawXml,
    Tracking,
    UniversalAdId,
    Verification,
    Wrapper,
    pod_to_vast,
)

BASE = "https://adgw.example.test"
EVENTS = ("loaded", "creativeView", "start", "firstQuartile", "midpoint", "thirdQuartile",
          "complete", "pause", "resume", "mute", "unmute", "skip", "closeLinear", "progress",
          "interactiveStart")
OMID = Verification(
    vendor="iabtechlab.com-omid",
    javascript_resources=(JavaScriptResource("https://verify.example.test/omid.js", "omid", True),),
    tracking=(Tracking("verificationNotExecuted", "https://verify.example.test/ne?r=[REASON]"),),
    parameters='{"pid":"adgw","cid":"c-1"}',
)


def pod(n: int = 4) -> Pod:
    ads = []
    for i in range(1, n + 1):
        creative = PodCreative(
            id=f"cr-{i}", duration_s=15.0, advertiser_domain="brand.example",
            iab_category="IAB2", universal_ad_id=f"ABCD{i:04d}000H", title=f"Spot {i} & co",
            click_through=f"https://brand.example/landing?c={i}&src=ctv",
            mezzanine=MediaRendition(url=f"/media/cr-{i}/mezzanine.mp4", width=1920,
                                     height=1080),
            media=tuple(MediaRendition(url=f"/media/cr-{i}/{h}p.mp4", width=w, height=h,
                                       bitrate_kbps=b, codec="avc1.640028")
                        for w, h, b in ((1920, 1080, 4500), (1280, 720, 2000))),
            hls_url=f"/media/cr-{i}/master.m3u8",
            hls_variants=(HlsVariant(f"/media/cr-{i}/720.m3u8", 2_000_000, (1280, 720)),),
        )
        ads.append(PlacedAd(imp_id=f"imp-{i:04d}", sequence=i, line_item_id=f"li-{i}",
                            campaign_id="c-1", advertiser_id="adv-1", creative=creative,
                            price_micros=12_500_000, tier="standard",
                            advertiser_name="Brand Inc."))
    return Pod(pod_id="pod-1", break_spec=BreakSpec(break_id="b1", duration_s=15.0 * n),
               ads=tuple(ads))


def pod_vast(version: str, n: int = 4) -> VAST:
    p = pod(n)
    ids = [a.imp_id for a in p.ads]
    return pod_to_vast(
        p,
        tracking={i: {e: [f"{BASE}/v1/b/{e}?t=tok-{i}-{e}&ts=[TIMESTAMP]"] for e in EVENTS}
                  for i in ids},
        impression_urls={i: [f"{BASE}/v1/b/impression?t=tok-{i}"] for i in ids},
        error_urls={i: [f"{BASE}/v1/b/error?t=tok-{i}&code=[ERRORCODE]",
                        "https://third.example/err?e=[ERRORCODE]"] for i in ids},
        click_urls={i: [f"{BASE}/v1/b/click?t=tok-{i}"] for i in ids},
        verifications={i: [OMID] for i in ids},
        version=version,
        base_url="https://cdn.example.test",
        include_pricing=True,
    )


def wrapper_vast(version: str) -> VAST:
    body = Wrapper(
        ad_system=AdSystem("adgw", "0.1"),
        vast_ad_tag_uri="https://ssp.example.test/vast?cb=[CACHEBUSTING]&ua=[DEVICEUA]",
        impressions=(Impression("https://adgw.example.test/imp?x=1", "adgw"),),
        errors=("https://adgw.example.test/err?code=[ERRORCODE]",),
        creatives=(Creative(linear=Linear(
            tracking=(Tracking("start", "https://adgw.example.test/start"),
                      Tracking("complete", "https://adgw.example.test/complete")),
            click_tracking=(ClickTracking("https://adgw.example.test/click"),))),),
        verifications=(OMID,),
        follow_additional_wrappers=True, allow_multiple_ads=False, fallback_on_no_ad=True,
    )
    return VAST(version=version, ads=(Ad(body, id="w-1", sequence=1),))


def hostile_vast(version: str) -> VAST:
    """Strings that would break naive templating."""
    nasty_url = "https://x.example.test/a?b=]]><Inject/>&c=<d>&e=\"'&f=[ERRORCODE]"
    creative = Creative(
        id='c"1<&>', sequence=1,
        linear=Linear(
            duration=30.5,
            media_files=(MediaFile(nasty_url, width=640, height=360, codec='a"b'),),
            mezzanines=(Mezzanine("https://x.example.test/m.mp4?]]>"),),
            tracking=(Tracking("start", nasty_url), Tracking("complete", "https://x.example.test/]]]]>>")),
            click_through=ClickThrough(nasty_url, id="<id>"),
        ),
        universal_ad_ids=(UniversalAdId("A&B<C>", "ad-id.org"),),
    )
    body = InLine(
        ad_system=AdSystem("sys </AdSystem><x>", "1&2"),
        ad_title="Title with <b>markup</b> & \"quotes\" and ]]> and non-ASCII: é 日本",
        impressions=(Impression(nasty_url, id="i\"d"),),
        creatives=(creative,),
        errors=(nasty_url,),
        ad_serving_id="asid-<&>",
        description="line one\nline two\ttabbed",
        extensions=(RawXml('<Extension type="t"><Data a="&lt;&amp;">x &gt; y</Data></Extension>'),),
    )
    return VAST(version=version, ads=(Ad(body, id="ad<&>\"", sequence=1),))
