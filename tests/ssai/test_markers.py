from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssai.errors import MarkerError, Scte35Error
from ssai.markers import cue_out_cont, cue_out_duration, detect
from ssai.plan import CueOffsets, find_breaks
from ssai.playlist import parse_media
from ssai.scte35 import decode
from tests.ssai.helpers import FIXTURES

SPLICE_INSERT = "/DAvAAAAAAAA///wFAVIAACPf+/+c2nALv4AUsz1AAAAAAAKAAhDVUVJAAABNWLbowo="
TIME_SIGNAL = "/DA0AAAAAAAA///wBQb+cr0AUAAeAhxDVUVJSAAAjn/PAAGlmbAICAAAAAAsoKGKNAIAmsnRfg=="

EXPECTED = {
    # fixture: (start index, end index, duration, source, event id)
    "elemental_live": (4, 9, 10.0, "cue-out", "1207959695"),
    "wowza_live": (3, 8, 10.0, "cue-out", None),
    "anvato_bare_live": (2, 7, None, "cue-out", None),
    "daterange_live": (3, 7, 8.0, "daterange", "splice-1207959695"),
    "oatcls_vod": (4, 10, 60.293567, "oatcls", "1207959695"),
    "splicepoint_vod": (5, 10, 307.0, "splicepoint", "1207959694"),
    "aes128_vod": (3, 3, 6.0, "cue-out", None),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_dialects(name: str) -> None:
    (cue,) = detect(parse_media((FIXTURES / f"{name}.m3u8").read_text()))
    assert (cue.start_index, cue.end_index, cue.duration, cue.source, cue.event_id) == EXPECTED[name]


def test_cue_out_forms() -> None:
    assert cue_out_duration("DURATION=30") == 30.0
    assert cue_out_duration("30.000") == 30.0
    assert cue_out_duration("") is None
    assert cue_out_cont("ElapsedTime=4.004,Duration=30,SCTE35=/DA=") == (4.004, 30.0)
    assert cue_out_cont("2.0/30") == (2.0, 30.0)
    with pytest.raises(MarkerError):
        cue_out_duration("DURATION=soon")


def test_scte35_decoding() -> None:
    info = decode(SPLICE_INSERT)
    assert info.is_out and info.duration == pytest.approx(60.293567) and info.id == "1207959695"
    hexed = decode("0x" + __import__("base64").b64decode(SPLICE_INSERT).hex())
    assert hexed == info
    ts = decode(TIME_SIGNAL)
    assert ts.command_type == 6 and ts.is_out and ts.duration == 307.0 and ts.upid == "0x2ca0a18a"


@pytest.mark.parametrize("bad", ["", "!!!", "/DAv", "0xfc00", "AAAAAAAAAAAAAAAAAAAAAAAA", SPLICE_INSERT[:-12] + "AAAA"])
def test_bad_payloads_raise_our_error(bad: str) -> None:
    with pytest.raises(Scte35Error):
        decode(bad)


def test_mid_break_join_is_marked_without_start() -> None:
    text = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-CUE-OUT-CONT:4/10\n#EXTINF:2,\na.ts\n#EXT-X-CUE-IN\n#EXTINF:2,\nb.ts\n"
    (cue,) = detect(parse_media(text))
    assert not cue.has_start and cue.elapsed == 4.0 and cue.end_index == 1


def test_vod_cue_offsets_without_markers() -> None:
    playlist = parse_media((FIXTURES / "nomarkers_vod.m3u8").read_text())
    breaks = find_breaks(playlist, CueOffsets(pre=True, mids=(9.0, 50.0), post=True))
    assert [(b.position, b.start_index) for b in breaks] == [("pre", 0), ("mid", 4), ("post", 10)]
    with pytest.raises(MarkerError):
        CueOffsets(mids=(-1.0,))


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.characters(codec="ascii"), max_size=120))
def test_any_payload_decodes_or_raises_our_error(payload: str) -> None:
    try:
        decode(payload)
    except Scte35Error:
        pass


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from([
    "#EXT-X-CUE-OUT:DURATION=10", "#EXT-X-CUE-OUT:7", "#EXT-X-CUE-OUT", "#EXT-X-CUE-IN",
    "#EXT-X-CUE-OUT-CONT:2/10", "#EXT-X-CUE-OUT-CONT:ElapsedTime=x", "#EXT-OATCLS-SCTE35:" + SPLICE_INSERT,
    "#EXT-X-SPLICEPOINT-SCTE35:zz", '#EXT-X-DATERANGE:ID="a",START-DATE="2025-01-01T00:00:00Z",SCTE35-OUT=0xFC',
    "#EXT-X-CUE-OUT:DURATION=-1", "#EXTINF:2,\na.ts",
]), max_size=20))  # fmt: skip
def test_any_marker_sequence_detects_or_raises_our_error(lines: list[str]) -> None:
    text = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n" + "\n".join(lines) + "\n#EXTINF:2,\nz.ts\n"
    try:
        cues = detect(parse_media(text))
    except MarkerError:
        return
    for cue in cues:
        assert cue.end_index is None or cue.end_index >= cue.start_index
