"""Fill policy knobs per session against the real server: validation, bumpers around the
pod, the personalization threshold, and the live pre-roll tracked at a stable time."""

from __future__ import annotations

import time

import pytest

from ssai.demo import LIVE_BREAKS, LOOP_SEGMENTS, SEGMENT_S
from tests.e2e_ssai.conftest import Gateway, media_url
from tests.e2e_ssai.test_api import _problem

pytestmark = pytest.mark.e2e

SLATE_MEDIA = "/demo/slate/v0.m3u8"  # a 2 s VOD media playlist without markers


def test_fill_fields_are_validated(gateway: Gateway) -> None:
    origin = gateway.url("/demo/vod/master.m3u8")
    bad = [("slate", 5), ("slate", "ftp://x/a.m3u8"), ("slate", "http://169.254.169.254/a.m3u8"),
           ("personalization_threshold_s", -1), ("personalization_threshold_s", "soon"),
           ("personalization_threshold_s", True), ("live_preroll_s", 0), ("live_preroll_s", 301),
           ("bumpers", "http://x/a.m3u8"), ("bumpers", {"middle": gateway.url(SLATE_MEDIA)}), ("bumpers", {})]  # fmt: skip
    for name, value in bad:
        _problem(gateway.post("/v1/sessions", {"origin": origin, "sid": "x", name: value}), 400, param=name)
    _problem(gateway.post("/v1/sessions", {"origin": origin, "sid": "x", "bumpers": {"start": "nope"}}), 400,
             param="bumpers.start")  # fmt: skip
    ok = gateway.post("/v1/sessions", {"origin": origin, "sid": "x", "slate": gateway.url(SLATE_MEDIA),
                                       "personalization_threshold_s": 2.5, "live_preroll_s": 8,
                                       "bumpers": {"end": gateway.url(SLATE_MEDIA)}})  # fmt: skip
    assert ok.status == 201, ok.text


def test_bumpers_frame_the_pod_and_threshold_abandons_underfill(gateway: Gateway) -> None:
    # a 29 s pre-roll: every creative lasts a multiple of 5 s, so at least 4 s stay unfilled
    plain = gateway.session(SLATE_MEDIA, sid="fill-plain", pre=1, dur=29)
    [avail] = gateway.get(plain["tracking_url"]).json()["avails"]
    assert avail["ads"] and 0 < avail["durationInSeconds"] <= 25
    strict = gateway.session(SLATE_MEDIA, sid="fill-strict", pre=1, dur=29, personalization_threshold_s=3)
    assert gateway.get(strict["tracking_url"]).json() == {"avails": []}
    assert "/seg/" not in gateway.get(media_url(strict, 0)).text

    bumped = gateway.session(SLATE_MEDIA, sid="fill-bumpers", pre=1, dur=29,
                             bumpers={"start": gateway.url("/demo/ads/ad-10a/master.m3u8"),
                                      "end": gateway.url(SLATE_MEDIA)})  # fmt: skip
    [avail] = gateway.get(bumped["tracking_url"]).json()["avails"]
    ads = avail["ads"]
    assert ads and ads[0]["startTimeInSeconds"] == 10.0  # after the 10 s start bumper
    ads_s = sum(a["durationInSeconds"] for a in ads)
    assert ads_s <= 17  # 29 s less 12 s of bumpers
    assert avail["durationInSeconds"] == pytest.approx(10.0 + ads_s + 2.0)
    uris = [line for line in gateway.get(media_url(bumped, 0)).text.splitlines() if line and not line.startswith("#")]
    assert uris[0].endswith("/demo/ads/ad-10a/v0/seg_000.ts")  # bumpers play as they are, untracked
    ad_uris = [i for i, u in enumerate(uris) if "/seg/" in u]
    assert ad_uris and ad_uris[0] == 5  # five 2 s bumper segments first
    slate_segment = gateway.url("/demo/slate/v0/seg_000.ts")
    assert uris[ad_uris[-1] + 1:] == [slate_segment, slate_segment]  # the end bumper, then the content


def wait_for_join_outside_an_avail(span: int = 3, within: float = 40.0) -> None:
    """The demo live stream is a function of the clock. A player joining inside an avail
    gets that avail's ads, not a pre-roll (deliberately), so wait until the join point
    (three segments from the live edge) and the `span` segments after it touch neither an
    avail nor the loop's wrap."""
    blocked = {i for start, length in LIVE_BREAKS for i in range(start, start + length + 1)}
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        join = int(time.time() // SEGMENT_S) - 3
        run = [join + k for k in range(span)]
        if all(n % LOOP_SEGMENTS not in blocked for n in run) and run[0] // LOOP_SEGMENTS == run[-1] // LOOP_SEGMENTS:
            return
        time.sleep(0.2)
    raise AssertionError(f"the demo live stream offered no join point outside an avail within {within}s")


def test_live_preroll_is_tracked_at_the_same_time_across_refreshes(gateway: Gateway) -> None:
    wait_for_join_outside_an_avail()
    session = gateway.session("/demo/live/master.m3u8", sid="live-preroll", live_preroll_s=10)
    starts = []
    for refresh in range(2):
        if refresh:
            time.sleep(2.2)  # the window slides by a segment
        text = gateway.get(media_url(session, 0)).text
        assert "/seg/preroll/" in text
        avails = {a["availId"]: a for a in gateway.get(session["tracking_url"]).json()["avails"]}
        starts.append(avails["preroll"]["startTimeInSeconds"])
    # the first playlist held 10 segments of 2 s; a player joins 3 target durations from its end
    assert starts == [14.0, 14.0]
