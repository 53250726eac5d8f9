"""Fill policies (bumpers, personalization threshold), the live session timeline and the
live pre-roll: pure functions over the demo live origin at fixed clocks."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ssai.demo import LIVE_BREAKS, LOOP_SEGMENTS, SEGMENT_S, live_playlist
from ssai.plan import Break, FillPolicy, make_avail, make_plan
from ssai.playlist import parse_media
from ssai.stitch import LiveState, OriginCache, StitchOptions, stitch_live
from ssai.timeline import (
    PREROLL_ID,
    LiveAnchor,
    anchor_of,
    avail_starts,
    preroll_break,
    with_preroll,
)
from ssai.tracking import tracking_json
from tests.ssai.helpers import demo_ad, fake_ad, slate

BUMPER = fake_ad("bumper", 2.0)
BRK = Break("mid-30.000", "mid", 5, 5, 30.0, 30.0, "cue-offset", 5)
ORIGIN = "https://origin.example/live/v0.m3u8"


def _bumper(name: str):
    return replace(BUMPER, ad_id=name, kind="bumper")


def test_bumpers_take_room_from_the_ads_and_frame_the_pod() -> None:
    policy = FillPolicy(start_bumper=_bumper("in"), end_bumper=_bumper("out"))
    assert policy.bumpers_s == 4.0 and policy.ad_room(BRK) == 26.0
    avail = make_avail(BRK, [fake_ad("a", 16.0), fake_ad("b", 10.0)], policy)
    assert [a.ad_id for a in avail.ads] == ["in", "imp-a", "imp-b", "out"]
    assert avail.filled and avail.ads_duration == 30.0
    assert FillPolicy(start_bumper=_bumper("in")).ad_room(Break("x", "mid", 0, 0, 0.0, 1.0, "cue-offset")) == 0.0


@pytest.mark.parametrize(("threshold", "ads", "filled"), [
    (None, [2.0], True),  # no threshold: any fill plays
    (5.0, [20.0, 10.0], True),  # no underfill
    (5.0, [20.0, 5.0], True),  # 5 s under: not past the threshold
    (5.0, [20.0, 4.0], False),  # 6 s under: abandoned, the content plays
    (0.0, [30.0], True),
    (0.0, [], False),  # nothing to play is always the content
])  # fmt: skip
def test_personalization_threshold_abandons_underfilled_breaks(threshold, ads, filled) -> None:
    policy = FillPolicy(personalization_threshold_s=threshold)
    avail = make_avail(BRK, [fake_ad(f"a{i}", d) for i, d in enumerate(ads)], policy)
    assert avail.filled is filled
    assert (avail.ads != ()) is filled


def test_threshold_counts_bumpers_as_fill() -> None:
    policy = FillPolicy(personalization_threshold_s=1.0, start_bumper=_bumper("in"), end_bumper=_bumper("out"))
    assert make_avail(BRK, [fake_ad("a", 25.0)], policy).filled  # 26 s of room, 1 s under
    assert not make_avail(BRK, [fake_ad("a", 24.0)], policy).filled  # 2 s under
    plan = make_plan([BRK], {BRK.id: [fake_ad("a", 24.0)]}, policy)
    assert tracking_json(plan) == {"avails": []}


def _playlist(now: float):
    return parse_media(live_playlist(now, 0))


def test_anchor_is_the_first_segment_and_the_join_point() -> None:
    now = 1_000_001.0  # last published segment: 499_999
    anchor = anchor_of(_playlist(now))
    assert anchor == LiveAnchor(499_990, 499_990 * 2.0, 2, 499_997, 499_997 * 2.0)
    assert LiveAnchor.from_json(anchor.to_json()) == anchor
    assert anchor.time_of(499_995, 499_995 * 2.0) == 10.0
    assert anchor.time_of(499_995, None) == 10.0  # no PDT: sequence × target duration
    assert anchor_of(parse_media("#EXTM3U\n#EXT-X-TARGETDURATION:2\n")) is None


def test_preroll_break_follows_the_window_then_goes() -> None:
    start = 1_000_001.0
    anchor = anchor_of(_playlist(start))
    first = preroll_break(_playlist(start), anchor, 8.0)
    assert first is not None and first.id == PREROLL_ID and first.position == "pre"
    assert first.start_sequence == 499_997 and first.end_index is None and first.duration == 8.0
    later = preroll_break(_playlist(start + 6.0), anchor, 8.0)  # 3 segments later: 500_001 published
    assert later is not None and later.start_sequence == 499_997
    assert _playlist(start + 6.0).segments[later.end_index].sequence == 500_001
    assert preroll_break(_playlist(start + 18.0), anchor, 8.0) is not None  # 500_001 still in the window
    assert preroll_break(_playlist(start + 40.0), anchor, 8.0) is None  # slid out: done


def _live_session(preroll_s: float | None, times: list[float]):
    """Refresh a live session at each time; (tracking JSON, stitched text) per refresh."""
    cache, state, decisions, out = OriginCache(), LiveState(), {}, []
    anchor = None
    for now in times:
        origin = cache.get(live_playlist(now, 0), ORIGIN)
        anchor = anchor or anchor_of(origin.playlist)
        breaks = with_preroll(origin.playlist, state, anchor, preroll_s)
        for b in breaks:
            decisions.setdefault(b.id, [demo_ad("ad-10a")])
        plan = make_plan(breaks, decisions, FillPolicy(slate=slate()))
        starts = avail_starts(plan, origin.playlist, state, anchor)
        text, state = stitch_live(origin, plan, StitchOptions(), state)
        state = LiveState.from_json(state.to_json())
        out.append((tracking_json(plan, starts, live=True), text))
    return out


def test_live_avail_start_is_stable_across_refreshes() -> None:
    start_index, length = LIVE_BREAKS[0]
    loop = 20_000
    cue_seq = loop * LOOP_SEGMENTS + start_index
    # the session starts 4 segments before the CUE-OUT is published, then refreshes 3 times
    first_now = (cue_seq - 4 + 1) * SEGMENT_S + 0.5
    times = [first_now + k * SEGMENT_S for k in (0, 5, 7, 9)]
    refreshes = _live_session(None, times)
    anchor_seq = cue_seq - 4 - 9
    expected = (cue_seq - anchor_seq) * SEGMENT_S
    starts = [{a["availId"]: a["startTimeInSeconds"] for a in t["avails"]} for t, _ in refreshes]
    # joined in the previous loop's second avail (CUE-OUT-CONT ElapsedTime=14): it began before us
    assert starts[0] == {f"s{anchor_seq}": -14.0}
    assert [s[f"s{cue_seq}"] for s in starts[1:]] == [expected] * 3
    ads = [a["ads"][0]["startTimeInSeconds"] for t, _ in refreshes[1:] for a in t["avails"]
           if a["availId"] == f"s{cue_seq}"]  # fmt: skip
    assert ads == [expected] * 3


def test_live_preroll_is_stitched_where_the_player_joins_and_tracked_stably() -> None:
    now = 500_019 * SEGMENT_S + 0.5  # the window holds loop indices 29, 0..8: no markers
    refreshes = _live_session(10.0, [now, now + SEGMENT_S, now + 2 * SEGMENT_S])
    for tracking, _text in refreshes:
        [avail] = [a for a in tracking["avails"] if a["availId"] == PREROLL_ID]
        assert avail["startTimeInSeconds"] == 14.0  # 7 segments after the anchor: 3 from the edge
        assert avail["ads"][0]["durationInSeconds"] == pytest.approx(demo_ad("ad-10a").duration_s)
    playlist = parse_media(refreshes[0][1])
    assert "/ad-10a/" in playlist.segments[7].uri and playlist.segments[7].discontinuity
    assert all("/ad-10a/" not in s.uri for s in playlist.segments[:7])
