from __future__ import annotations

import m3u8
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssai.errors import PlaylistError
from ssai.playlist import parse, parse_media, parse_multivariant, render_multivariant
from tests.ssai.helpers import FIXTURES, MEDIA

MEDIA_PLAYLISTS = sorted([*FIXTURES.glob("*.m3u8"), *(MEDIA / "vod").glob("v*.m3u8"), *(MEDIA / "ads").glob("*/v*.m3u8")])


@pytest.mark.parametrize("path", MEDIA_PLAYLISTS, ids=lambda p: p.parent.name + "/" + p.name)
def test_media_playlists_agree_with_m3u8(path) -> None:
    text = path.read_text()
    ours, theirs = parse_media(text), m3u8.loads(text)
    assert [s.uri for s in ours.segments] == [s.uri for s in theirs.segments]
    assert [s.duration for s in ours.segments] == [s.duration for s in theirs.segments]
    assert [s.discontinuity for s in ours.segments] == [s.discontinuity for s in theirs.segments]
    assert ours.target_duration == theirs.target_duration
    assert ours.media_sequence == (theirs.media_sequence or 0)
    assert ours.endlist == theirs.is_endlist
    for mine, other in zip(ours.segments, theirs.segments, strict=True):
        if other.byterange:
            assert mine.byterange is not None and other.byterange.startswith(str(mine.byterange.length))
        if other.program_date_time is not None:
            assert mine.program_date_time == pytest.approx(other.program_date_time.timestamp())


def test_byterange_offsets_resolved_and_key_map_carried() -> None:
    p = parse_media((FIXTURES / "fmp4_byterange_vod.m3u8").read_text())
    assert [s.byterange.offset for s in p.segments] == [720 + 1000 * i for i in range(8)]
    assert all(s.init is not None and s.init.byterange.length == 720 for s in p.segments)
    k = parse_media((FIXTURES / "aes128_vod.m3u8").read_text())
    assert all(s.keys and s.keys[0].method == "AES-128" for s in k.segments)
    assert k.segments[0].sequence == 10


def test_multivariant_round_trip() -> None:
    text = (
        "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-INDEPENDENT-SEGMENTS\n"
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aac",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,URI="a/en.m3u8"\n'
        '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="English",LANGUAGE="en",URI="s/en.m3u8"\n'
        '#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,CODECS="avc1.4d401e,mp4a.40.2",AUDIO="aac",SUBTITLES="subs"\n'
        "v/360.m3u8\n"
        '#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=90000,URI="v/iframe.m3u8"\n'
    )
    mv = parse(text)
    assert mv == parse_multivariant(text)
    (variant,) = mv.variants
    assert (variant.bandwidth, variant.resolution, variant.audio, variant.subtitles) == (800000, (640, 360), "aac", "subs")
    assert [r.type for r in mv.renditions] == ["AUDIO", "SUBTITLES"] and mv.renditions[0].default
    out = render_multivariant(mv, lambda i, v: f"/s/media/{i}.m3u8", lambda i, r: f"/s/r/{i}.m3u8")
    again = m3u8.loads(out)
    assert [p.uri for p in again.playlists] == ["/s/media/0.m3u8"]
    assert [m.uri for m in again.media] == ["/s/r/0.m3u8", "/s/r/1.m3u8"]
    assert "I-FRAME" not in out


@pytest.mark.parametrize("bad", [
    "", "hello", "#EXTM3U\n#EXTINF:abc,\na.ts\n", "#EXTM3U\na.ts\n", "#EXTM3U\n#EXTINF:2,\n",
    "#EXTM3U\n#EXT-X-TARGETDURATION:x\n", "#EXTM3U\n#EXT-X-KEY:URI=\"k\"\n#EXTINF:2,\na.ts",
    "#EXTM3U\n#EXT-X-STREAM-INF:RESOLUTION=1x1\nv.m3u8\n", "#EXTM3U\n#EXTINF:-1,\na.ts",
])  # fmt: skip
def test_malformed_raises_our_error(bad: str) -> None:
    with pytest.raises(PlaylistError):
        parse(bad)


_LINES = st.sampled_from([
    "#EXTM3U", "#EXTINF:2.0,", "#EXTINF:x,", "#EXT-X-TARGETDURATION:2", "#EXT-X-MEDIA-SEQUENCE:5",
    "#EXT-X-BYTERANGE:100@0", "#EXT-X-BYTERANGE:1@", "#EXT-X-KEY:METHOD=AES-128,URI=\"k\"", "#EXT-X-KEY:METHOD=NONE",
    '#EXT-X-MAP:URI="i.mp4"', "#EXT-X-MAP:", "#EXT-X-DISCONTINUITY", "#EXT-X-PROGRAM-DATE-TIME:2025-01-01T00:00:00Z",
    "#EXT-X-PROGRAM-DATE-TIME:yesterday", "#EXT-X-ENDLIST", "#EXT-X-STREAM-INF:BANDWIDTH=1", "#EXT-X-MEDIA:TYPE=AUDIO",
    "seg.ts", "", "# comment", "#EXT-UNKNOWN:1",
])  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=200), st.lists(_LINES, max_size=30).map(lambda xs: "\n".join(["#EXTM3U", *xs]))))
def test_any_text_parses_or_raises_our_error(text: str) -> None:
    try:
        parse(text)
    except PlaylistError:
        pass
