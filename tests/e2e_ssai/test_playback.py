"""A stitched VOD session of the demo origin plays from start to end in ffmpeg over HTTP,
and lasts exactly content plus ads."""

from __future__ import annotations

from ssai.playlist import parse_media
from tests.e2e_ssai.conftest import Gateway, media_url
from tests.e2e_ssai.helpers import ad_blocks
from tests.support.ffmpeg import decoded_frames

pytestmark = __import__("pytest").mark.e2e

FPS = 15
CONTENT_S = 60.0


def test_stitched_vod_plays_over_http_for_content_plus_ads(gateway: Gateway) -> None:
    session = gateway.session(sid="ffmpeg-device")
    url = media_url(session, 2)
    text = gateway.get(url).text
    playlist = parse_media(text)
    blocks = ad_blocks(playlist)
    ads_s = sum(b.duration for b in blocks)
    assert len({b.avail for b in blocks}) == 2 and ads_s > 0, text
    assert abs(playlist.duration - (CONTENT_S + ads_s)) < 1e-6
    tracked = sum(ad["durationInSeconds"] for avail in gateway.get(session["tracking_url"]).json()["avails"]
                  for ad in avail["ads"])  # fmt: skip
    assert abs(tracked - ads_s) < 1e-3

    frames = decoded_frames(url)
    assert frames == round((CONTENT_S + ads_s) * FPS), (frames, CONTENT_S + ads_s)
