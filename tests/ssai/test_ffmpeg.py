"""A stitched VOD of the demo media decodes with ffmpeg, without errors, and lasts exactly
content plus ads."""

from __future__ import annotations

from pathlib import Path

import pytest

from ssai.demo import LADDER
from ssai.plan import find_breaks, make_plan
from ssai.rendition import Target
from ssai.stitch import StitchOptions, prepare, stitch
from tests.ssai.helpers import MEDIA, demo_ad
from tests.support.ffmpeg import decoded_frames

FPS = 15


@pytest.mark.parametrize("variant", [0, 2])
def test_stitched_vod_decodes_to_content_plus_ads(variant: int, tmp_path: Path) -> None:
    content = MEDIA / "vod" / f"v{variant}.m3u8"
    origin = prepare(content.read_text(), str(content))  # file paths as segment URIs
    breaks = find_breaks(origin.playlist)
    ads = {breaks[0].id: [demo_ad("ad-10a", base=""), demo_ad("ad-20a", base="")],
           breaks[1].id: [demo_ad("ad-15a", base=""), demo_ad("ad-15b", base="")]}  # fmt: skip
    plan = make_plan(breaks, ads)
    w, h, bw = LADDER[variant]
    text = stitch(origin, plan, StitchOptions(target=Target("video", bw, (w, h))))
    assert all(line.startswith(("#", str(MEDIA))) for line in text.splitlines())
    playlist = tmp_path / "stitched.m3u8"
    playlist.write_text(text)
    frames = decoded_frames(str(playlist), "-allowed_extensions", "ALL", "-protocol_whitelist", "file")
    expected_s = 60 + 10 + 20 + 15 + 15
    assert frames == expected_s * FPS, (frames, expected_s * FPS)
