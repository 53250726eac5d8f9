"""Golden outputs: every marker dialect and HLS rule, stitched with fixed ads.
Regenerate deliberately with SSAI_UPDATE_GOLDEN=1 and review the diff."""

from __future__ import annotations

import pytest

from ssai.playlist import parse_media
from tests.ssai.scenarios import SCENARIOS, golden, run


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_golden(name: str) -> None:
    assert run(name) == golden(name)


def _lines(name: str) -> list[str]:
    return run(name).splitlines()


def test_every_ad_block_is_framed_by_discontinuities() -> None:
    for name in SCENARIOS:
        lines = _lines(name)
        uris = [i for i, line in enumerate(lines) if line and not line.startswith("#")]
        for prev, cur in zip(uris, uris[1:], strict=False):
            a, b = "ads.example" in lines[prev], "ads.example" in lines[cur]
            if a != b:
                between = lines[prev + 1 : cur]
                assert "#EXT-X-DISCONTINUITY" in between, (name, lines[cur])


def test_aes128_key_none_over_ads_and_explicit_iv_after() -> None:
    lines = _lines("aes128_vod")
    first_ad = next(i for i, line in enumerate(lines) if "ads.example" in line)
    assert "#EXT-X-KEY:METHOD=NONE" in lines[first_ad - 3 : first_ad]
    after = next(i for i, line in enumerate(lines) if line.endswith("content_13.ts"))
    # content_13 keeps its original IV (its original media sequence number, 13) though renumbered
    assert lines[after - 2].endswith("IV=0x0000000000000000000000000000000d")
    playlist = parse_media(run("aes128_vod"))
    assert [s.uri for s in playlist.segments][-1].endswith("content_17.ts")


def test_fmp4_map_after_each_discontinuity_and_byteranges_explicit() -> None:
    lines = _lines("fmp4_byterange_vod")
    for i, line in enumerate(lines):
        if line == "#EXT-X-DISCONTINUITY":
            assert lines[i + 1].startswith("#EXT-X-MAP:")
        if line.startswith("#EXT-X-BYTERANGE:"):
            assert "@" in line
    assert '#EXT-X-CUSTOM-TAG:VALUE="kept"' in lines
    assert "#EXT-X-START:TIME-OFFSET=0" in lines


def test_pdt_continuous_across_the_stitched_timeline() -> None:
    for name in ("fmp4_byterange_vod", "daterange_live", "elemental_live"):
        playlist = parse_media(run(name))
        segs = playlist.segments
        for a, b in zip(segs, segs[1:], strict=False):
            assert b.program_date_time == pytest.approx(a.program_date_time + a.duration), name


def test_marker_passthrough_and_svta_metadata() -> None:
    assert "#EXT-X-CUE-OUT:DURATION=307.0" in _lines("splicepoint_vod")
    assert "#EXT-X-CUE-IN" in _lines("splicepoint_vod")
    assert not any("CUE" in line for line in _lines("oatcls_vod"))
    assert any('CLASS="urn:svta:advertising-wg:ads"' in line for line in _lines("daterange_live"))
