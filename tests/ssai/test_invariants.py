"""Hypothesis invariants of the stitcher."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ssai.plan import CueOffsets, FillPolicy, find_breaks, make_plan
from ssai.playlist import parse_media
from ssai.rendition import AUDIO, SUBTITLES, VIDEO, Target
from ssai.stitch import StitchOptions, prepare, stitch
from tests.ssai.helpers import fake_ad

TARGETS = (
    Target(VIDEO, 110_000, (320, 180), "avc1.42c01e,mp4a.40.2"),
    Target(VIDEO, 220_000, (640, 360), "avc1.42c01e,mp4a.40.2"),
    Target(AUDIO, 64_000),
    Target(SUBTITLES),
)


def _vod(durations: list[float], cues: set[int], keyed: bool) -> str:
    lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:6", "#EXT-X-PLAYLIST-TYPE:VOD"]
    if keyed:
        lines.append('#EXT-X-KEY:METHOD=AES-128,URI="k.key"')
    for i, d in enumerate(durations):
        if i in cues:
            lines += ["#EXT-X-CUE-OUT:DURATION=15", "#EXT-X-CUE-IN"]
        lines += [f"#EXTINF:{d:.3f},", f"c{i}.ts"]
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(0.5, 6.0), min_size=1, max_size=40),
    st.sets(st.integers(0, 40), max_size=5),
    st.lists(st.sampled_from([2.0, 5.0, 10.0, 15.0]), min_size=1, max_size=3),
    st.booleans(),
    st.booleans(),
)
def test_vod_never_loses_content_and_renditions_agree(durations, cues, ad_lengths, keyed, offsets) -> None:
    origin = prepare(_vod(durations, cues, keyed), "https://o.example/vod/main.m3u8")
    breaks = find_breaks(origin.playlist, CueOffsets(pre=True, mids=(7.0,), post=True) if offsets else None)
    ads = [fake_ad(f"a{i}-{int(d)}", d) for i, d in enumerate(ad_lengths)]
    plan = make_plan(breaks, {b.id: ads for b in breaks}, FillPolicy())
    discs = set()
    for target in TARGETS:
        out = parse_media(stitch(origin, plan, StitchOptions(target=target, subtitle_gap_uri="https://gw.example/empty.vtt")))
        content = [s.uri for s in out.segments if "o.example" in s.uri]
        assert content == [f"https://o.example/vod/c{i}.ts" for i in range(len(durations))]
        discs.add(sum(s.discontinuity for s in out.segments))
        total = sum(s.duration for s in out.segments)
        expected = sum(float(f"{d:.3f}") for d in durations) + sum(sum(a.duration_s for a in av.ads) for av in plan.avails)
        assert abs(total - expected) < 1e-6 * (1 + len(out.segments))
        assert all(round(s.duration) <= out.target_duration for s in out.segments)
        if keyed:
            for s in out.segments:
                assert bool(s.keys) == ("o.example" in s.uri)
    assert len(discs) == 1
