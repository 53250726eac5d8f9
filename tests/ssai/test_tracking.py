from __future__ import annotations

import json

from ssai.interstitials import asset_list, render
from ssai.plan import find_breaks, make_plan
from ssai.playlist import parse_media
from ssai.stitch import prepare, stitch
from ssai.tracking import progress_events, tracking_json
from tests.ssai.helpers import MEDIA, demo_ad


def _plan():
    origin = prepare((MEDIA / "vod" / "v0.m3u8").read_text(), "https://gw.example/demo/vod/v0.m3u8")
    breaks = find_breaks(origin.playlist)
    return origin, make_plan(breaks, {breaks[0].id: [demo_ad("ad-10a"), demo_ad("ad-20a")], breaks[1].id: [demo_ad("ad-30a")]})


def test_tracking_json_matches_the_manifest() -> None:
    origin, plan = _plan()
    doc = tracking_json(plan)
    json.dumps(doc)
    a1, a2 = doc["avails"]
    assert (a1["startTimeInSeconds"], a1["durationInSeconds"]) == (20.0, 30.0)
    assert (a2["startTimeInSeconds"], a2["durationInSeconds"]) == (70.0, 30.0)  # 40 s + the first avail
    ad = a1["ads"][1]
    assert (ad["adId"], ad["creativeId"], ad["startTimeInSeconds"]) == ("imp-ad-20a", "cr-ad-20a", 30.0)
    events = {e["eventType"]: e["startTimeInSeconds"] for e in ad["trackingEvents"]}
    assert events == {"impression": 30.0, "start": 30.0, "firstQuartile": 35.0, "midpoint": 40.0,
                      "thirdQuartile": 45.0, "complete": 50.0}  # fmt: skip
    assert ad["trackingEvents"][0]["beaconUrls"] == ["https://t.example/ad-20a/impression"]
    # the same instants on the stitched playlist: the ad's first segment starts at 30 s
    stitched = parse_media(stitch(origin, plan))
    first = next(s for s in stitched.segments if "ad-20a" in s.uri)
    assert first.start == 30.0


def test_progress_events_by_segment() -> None:
    ad = demo_ad("ad-20a")  # ten 2 s segments
    fired = [progress_events(ad, i) for i in range(10)]
    assert fired[0] == ("impression", "start")
    assert fired[2] == ("firstQuartile",) and fired[5] == ("midpoint",) and fired[7] == ("thirdQuartile",)
    assert fired[9] == ("complete",)
    assert sum(len(f) for f in fired) == 6 and progress_events(ad, 10) == ()


def test_interstitials_output() -> None:
    origin, plan = _plan()
    text = render(origin, plan, lambda avail: f"https://gw.example/assets/{avail.id}.json")
    ranges = [line for line in text.splitlines() if line.startswith("#EXT-X-DATERANGE")]
    assert len(ranges) == 2 and all('CLASS="com.apple.hls.interstitial"' in r for r in ranges)
    assert 'X-ASSET-LIST="https://gw.example/assets/mid-20.000.json"' in ranges[0]
    assert "START-DATE=\"1970-01-01T00:00:20.000Z\"" in ranges[0]
    content = parse_media(text)
    assert len(content.segments) == 30 and "#EXT-X-PROGRAM-DATE-TIME" in text
    doc = asset_list(plan.avails[0], lambda ad: f"https://ads.example/{ad.creative_id}/master.m3u8")
    assert doc == {"ASSETS": [{"URI": "https://ads.example/cr-ad-10a/master.m3u8", "DURATION": 10.0},
                              {"URI": "https://ads.example/cr-ad-20a/master.m3u8", "DURATION": 20.0}]}  # fmt: skip
