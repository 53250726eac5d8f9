"""The session API against the real server: tracking JSON agrees with the manifest, ad
segments redirect to the right file, interstitials, and every error is problem+json."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import quote

import pytest

from ssai.playlist import parse_media, parse_multivariant
from tests.e2e_ssai.conftest import HLS, Gateway, media_url
from tests.e2e_ssai.helpers import SEG, ad_blocks

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
MEDIA = ROOT / "fixtures" / "media"
CREATIVE_HLS = {c["id"]: c.get("hls_url") for c in json.loads((ROOT / "fixtures" / "catalog.json").read_text())["creatives"]}


def test_session_answer_and_master_point_at_the_gateway(gateway: Gateway) -> None:
    answer = gateway.post("/v1/sessions", {"origin": gateway.url("/demo/vod/master.m3u8"), "sid": "dev-a",
                                           "genre": "news", "dt": "ctv", "lmt": False})  # fmt: skip
    assert answer.status == 201 and answer.content_type == "application/json"
    body = answer.json()
    assert set(body) == {"session_id", "manifest_url", "tracking_url"}
    assert body["manifest_url"] == f"{gateway.base}/v1/sessions/{body['session_id']}/master.m3u8"
    assert body["tracking_url"] == f"{gateway.base}/v1/sessions/{body['session_id']}/tracking"
    master = gateway.get(body["manifest_url"])
    assert master.status == 200 and master.content_type == HLS
    mv = parse_multivariant(master.text)
    assert [v.uri for v in mv.variants] == [media_url(body, n) for n in range(3)]
    assert [v.bandwidth for v in mv.variants] == [110000, 150000, 220000]


def test_implicit_session_and_media_origin_as_single_variant(gateway: Gateway) -> None:
    origin = quote(gateway.url("/demo/vod/master.m3u8"), safe="")
    answer = gateway.get(f"/v1/ssai/master.m3u8?origin={origin}&sid=implicit")
    assert answer.status == 200 and answer.content_type == HLS
    session_id = answer.headers["X-Adgw-Session-Id"]
    assert parse_multivariant(answer.text).variants[0].uri == f"{gateway.base}/v1/sessions/{session_id}/media/0.m3u8"
    assert gateway.get(f"/v1/sessions/{session_id}/master.m3u8").text == answer.text

    session = gateway.session("/demo/vod/v1.m3u8", sid="bare-media")
    mv = parse_multivariant(gateway.get(session["manifest_url"]).text)
    assert [v.uri for v in mv.variants] == [media_url(session, 0)]
    media = gateway.get(media_url(session, 0))
    assert media.status == 200 and "/demo/vod/v1/seg_000.ts" in media.text
    assert len({b.avail for b in ad_blocks(media.text)}) == 2
    assert gateway.get(media_url(session, 1)).status == 404


def test_tracking_json_matches_the_manifest(gateway: Gateway) -> None:
    session = gateway.session(sid="tracking-device", genre="sports")
    playlist = parse_media(gateway.get(media_url(session, 0)).text)
    blocks = ad_blocks(playlist)
    assert blocks
    tracking = gateway.get(session["tracking_url"])
    assert tracking.status == 200 and tracking.content_type == "application/json"
    avails = tracking.json()["avails"]
    tracked = [(a["availId"], ad["adId"], ad["startTimeInSeconds"], ad["durationInSeconds"])
               for a in avails for ad in a["ads"]]  # fmt: skip
    assert [(b.avail, b.ad) for b in blocks] == [(t[0], t[1]) for t in tracked]
    for block, (_, _, start, duration) in zip(blocks, tracked, strict=True):
        assert block.discontinuity
        assert start == pytest.approx(block.start, abs=1e-3)
        assert duration == pytest.approx(block.duration, abs=1e-3)
    for avail in avails:
        first = [b for b in blocks if b.avail == avail["availId"]]
        assert avail["startTimeInSeconds"] == pytest.approx(first[0].start, abs=1e-3)
        assert avail["durationInSeconds"] == pytest.approx(sum(b.duration for b in first), abs=1e-3)
        for ad in avail["ads"]:
            events = {e["eventType"]: e for e in ad["trackingEvents"]}
            assert list(events) == ["impression", "start", "firstQuartile", "midpoint", "thirdQuartile", "complete"]
            assert events["midpoint"]["startTimeInSeconds"] == pytest.approx(
                ad["startTimeInSeconds"] + ad["durationInSeconds"] / 2, abs=1e-3)
            assert events["complete"]["startTimeInSeconds"] == pytest.approx(
                ad["startTimeInSeconds"] + ad["durationInSeconds"], abs=1e-3)
            tokens = set()
            for name, event in events.items():
                [url] = event["beaconUrls"]
                m = re.fullmatch(rf"{re.escape(gateway.base)}/v1/b/{name}\?t=([\w-]+\.[\w-]+\.[\w-]+)&ts=\[TIMESTAMP\]", url)
                assert m, url
                tokens.add(m[1])
            assert len(tokens) == 1  # one signed token per ad instance
    # asking again (or from another instance) gives the same answer: decisions are stored
    assert gateway.get(session["tracking_url"]).json() == tracking.json()


def test_segment_redirects_to_the_ad_segment(gateway: Gateway) -> None:
    session = gateway.session(sid="seg-device")
    tracking = gateway.get(session["tracking_url"]).json()
    creative_of = {ad["adId"]: ad["creativeId"] for a in tracking["avails"] for ad in a["ads"]}
    for n in (0, 2):
        text = gateway.get(media_url(session, n)).text
        seg_urls = [line for line in text.splitlines() if "/seg/" in line]
        assert seg_urls
        for url in (seg_urls[0], seg_urls[-1]):
            m = SEG.search(url)
            assert m is not None, url
            answer = gateway.get(url)
            assert answer.status == 302, answer.text
            location = answer.headers["Location"]
            hls = CREATIVE_HLS[creative_of[m["ad"]]]
            folder = hls.rsplit("/", 1)[0]
            assert location == f"{gateway.base}{folder}/v{n}/seg_{int(m['seg']):03d}.ts"
            fetched = gateway.get(location)
            assert fetched.status == 200
            assert fetched.body == (MEDIA / folder.removeprefix("/demo/") / f"v{n}" / f"seg_{int(m['seg']):03d}.ts").read_bytes()


def test_interstitials_mode_and_asset_lists(gateway: Gateway) -> None:
    session = gateway.session(sid="hlsi-device", mode="interstitials")
    text = gateway.get(media_url(session, 1)).text
    assert "/seg/" not in text
    ranges = re.findall(r'#EXT-X-DATERANGE:ID="([^"]+)",CLASS="com.apple.hls.interstitial".*X-ASSET-LIST="([^"]+)"', text)
    tracking = gateway.get(session["tracking_url"]).json()["avails"]
    assert [r[0] for r in ranges] == [a["availId"] for a in tracking] and len(ranges) == 2
    for (avail_id, asset_url), avail in zip(ranges, tracking, strict=True):
        assert asset_url == f"{gateway.base}/v1/sessions/{session['session_id']}/assets/{avail_id}.json"
        assets = gateway.get(asset_url)
        assert assets.status == 200
        listed = assets.json()["ASSETS"]
        assert [a["DURATION"] for a in listed] == [ad["durationInSeconds"] for ad in avail["ads"]]
        for asset, ad in zip(listed, avail["ads"], strict=True):
            assert asset["URI"] == gateway.base + CREATIVE_HLS[ad["creativeId"]]
    assert gateway.get(f"/v1/sessions/{session['session_id']}/assets/nope.json").status == 404


def _problem(answer, status: int, kind: str | None = None, param: str | None = None) -> dict:
    assert answer.status == status, (answer.status, answer.text)
    assert answer.content_type == "application/problem+json", answer.headers
    body = answer.json()
    assert body["status"] == status
    if kind is not None:
        assert body["type"].endswith("/" + kind), body
    if param is not None:
        assert body["param"] == param, body
    return body


def test_errors_are_problems(gateway: Gateway) -> None:
    good = gateway.session(sid="err-device")
    sid = good["session_id"]
    for path in ("/v1/sessions/nope/master.m3u8", "/v1/sessions/nope/media/0.m3u8", "/v1/sessions/nope/tracking",
                 "/v1/sessions/nope/seg/mid-20.000/x/0.ts?v=0", "/v1/sessions/nope/assets/x.json"):  # fmt: skip
        _problem(gateway.get(path), 404, "unknown-session")
    _problem(gateway.get(f"/v1/sessions/{sid}/media/7.m3u8"), 404)
    _problem(gateway.get(f"/v1/sessions/{sid}/seg/mid-20.000/nope/0.ts?v=0"), 404)
    _problem(gateway.get(f"/v1/sessions/{sid}/seg/~%25%25/nope/0.ts?v=0"), 404)
    seg = next(line for line in gateway.get(media_url(good, 0)).text.splitlines() if "/seg/" in line)
    _problem(gateway.get(seg.replace("?v=0", "?v=9")), 404)
    _problem(gateway.get(seg.replace("?v=0", "?v=x")), 400)
    _problem(gateway.get(re.sub(r"/\d+\.ts", "/999.ts", seg)), 404)

    _problem(gateway.post("/v1/sessions", b"{not json"), 400, "invalid-json")
    _problem(gateway.post("/v1/sessions", [1, 2]), 400, "invalid-json")
    _problem(gateway.post("/v1/sessions", {"sid": "x"}), 400, param="origin")
    _problem(gateway.post("/v1/sessions", {"origin": gateway.url("/demo/vod/master.m3u8")}), 400, param="sid")
    _problem(gateway.post("/v1/sessions", {"origin": "ftp://example.com/a.m3u8", "sid": "x"}), 400, param="origin")
    _problem(gateway.post("/v1/sessions", {"origin": "http://127.0.0.1:1/a.m3u8", "sid": "x"}), 400, param="origin")
    for origin in ("http://example.com:99999/a.m3u8", "http://[::1/a.m3u8", "not a url", ""):
        _problem(gateway.post("/v1/sessions", {"origin": origin, "sid": "x"}), 400, param="origin")
    _problem(gateway.post("/v1/sessions", {"origin": "http://169.254.169.254/latest.m3u8", "sid": "x"}), 400,
             param="origin")  # fmt: skip
    _problem(gateway.post("/v1/sessions", {"origin": gateway.url("/demo/vod/master.m3u8"), "sid": "x",
                                           "rating": "R18"}), 400, param="rating")  # fmt: skip
    _problem(gateway.post("/v1/sessions", {"origin": gateway.url("/demo/vod/master.m3u8"), "sid": "x",
                                           "mode": "weird"}), 400, param="mode")  # fmt: skip
    _problem(gateway.post("/v1/sessions", {"origin": gateway.url("/demo/vod/master.m3u8"), "sid": {"a": 1}}), 400,
             param="sid")  # fmt: skip
    _problem(gateway.get("/v1/ssai/master.m3u8?sid=x"), 400, param="origin")
    _problem(gateway.get(f"/v1/ssai/master.m3u8?origin={quote(gateway.url('/demo/vod/master.m3u8'))}"), 400,
             param="sid")  # fmt: skip

    missing = gateway.session("/demo/nope/master.m3u8", sid="x")
    _problem(gateway.get(missing["manifest_url"]), 502, "origin-unavailable")
    _problem(gateway.get(missing["tracking_url"]), 502, "origin-unavailable")
    not_hls = gateway.session("/demo/", sid="x")  # the demo index is JSON, not a playlist
    detail = _problem(gateway.get(not_hls["manifest_url"]), 502, "bad-origin-playlist")["detail"]
    assert "#EXTM3U" in detail
    unreachable = gateway.session("http://origin.invalid/master.m3u8", sid="x")  # RFC 6761: never resolves
    _problem(gateway.get(unreachable["manifest_url"]), 502, "origin-unavailable")
    _problem(gateway.get(media_url(unreachable, 0)), 502, "origin-unavailable")
