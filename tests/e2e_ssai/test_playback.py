"""A stitched VOD session of the demo origin plays from start to end in ffmpeg over HTTP,
and lasts exactly content plus ads."""

from __future__ import annotations

import re
import subprocess

import imageio_ffmpeg

from ssai.playlist import parse_media
from tests.e2e_ssai.conftest import Gateway, media_url
from tests.e2e_ssai.helpers import ad_blocks

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

    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-stats",
           "-i", url, "-map", "0:v:0", "-map", "0:a:0", "-fps_mode", "passthrough",
           # AAC frames overlap a few ms at each join; resampling re-times them so the null
           # muxer's monotonic-DTS check does not report the join itself as an error.
           "-af", "aresample=async=1", "-f", "null", "-"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    stats = proc.stderr.replace("\r", "\n")
    errors = [line for line in stats.splitlines() if line.strip() and not line.lstrip().startswith("frame=")]
    assert errors == [], errors
    frames = int(re.findall(r"frame=\s*(\d+)", stats)[-1])
    assert frames == round((CONTENT_S + ads_s) * FPS), (frames, CONTENT_S + ads_s)
