"""Live: a sliding origin refreshed 200 times across many avails, in every rendition."""

from __future__ import annotations

import re

from ssai.demo import LADDER, live_playlist
from ssai.plan import FillPolicy, find_breaks, make_plan
from ssai.playlist import parse_media
from ssai.rendition import Target
from ssai.stitch import LiveState, OriginCache, StitchOptions, live_breaks, prepare, stitch_live
from tests.ssai.helpers import demo_ad, fake_ad, slate

BASE = "https://gw.example/demo/live/v{}.m3u8"


def choose_ads(break_id: str, duration: float):
    seq = int(break_id[1:])
    if duration <= 10:
        return [demo_ad("ad-10a")]
    return [demo_ad("ad-15b")] if seq % 4 == 0 else [demo_ad("ad-10a")]


def refresh(cache: OriginCache, now: float, variant: int, state: LiveState, decisions: dict) -> tuple[str, LiveState]:
    origin = cache.get(live_playlist(now, variant), BASE.format(variant))
    breaks = live_breaks(origin.playlist, state)
    for b in breaks:  # one decision per break per session, shared by every rendition
        decisions.setdefault(b.id, choose_ads(b.id, b.duration))
    plan = make_plan(breaks, decisions, FillPolicy(slate=slate()))
    w, h, bw = LADDER[variant]
    options = StitchOptions(target=Target("video", bw, (w, h), "avc1.42c01e,mp4a.40.2"))
    text, state = stitch_live(origin, plan, options, state)
    return text, LiveState.from_json(state.to_json())  # as the session store keeps it


def _identity(uri: str) -> str:
    return re.sub(r"/v\d/", "/v*/", uri)


def test_two_hundred_refreshes_keep_numbering_and_ads_identical() -> None:
    cache = OriginCache()
    decisions: dict = {}
    states = [LiveState() for _ in LADDER]
    seen: list[dict[int, tuple[str, int]]] = [{} for _ in LADDER]
    first_seq = [0 for _ in LADDER]
    targets = set()
    ads_seen = 0
    start = 1_000_000.0
    for step in range(200):
        now = start + step * 2.0 + (0.7 if step % 3 else 0.0)
        per_variant = []
        for variant in range(len(LADDER)):
            text, states[variant] = refresh(cache, now, variant, states[variant], decisions)
            playlist = parse_media(text)
            targets.add(playlist.target_duration)
            segs = playlist.segments
            assert segs, text
            assert [s.sequence for s in segs] == list(range(segs[0].sequence, segs[0].sequence + len(segs)))
            assert segs[0].sequence >= first_seq[variant]
            first_seq[variant] = segs[0].sequence
            for s in segs:
                key = (_identity(s.uri), s.discontinuity_sequence)
                old = seen[variant].setdefault(s.sequence, key)
                assert old == key, (step, variant, s.sequence, old, key)
                assert not re.search(r"seg_01[0-4]\.ts|seg_02[0-7]\.ts", s.uri), "avail content leaked"
            ads_seen += sum("ads.example" in s.uri for s in segs)
            per_variant.append([(s.sequence, s.discontinuity_sequence, _identity(s.uri)) for s in segs])
            # a discontinuity before every switch between content and ad
            for a, b in zip(segs, segs[1:], strict=False):
                if ("ads.example" in a.uri) != ("ads.example" in b.uri):
                    assert b.discontinuity, (step, b.uri)
        assert per_variant[0] == per_variant[1] == per_variant[2]
    assert targets == {2}
    assert ads_seen > 0
    assert len(decisions) >= 12


def _sliding(first: int, count: int, out_at: int, in_at: int | None, duration: int) -> str:
    lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:2", f"#EXT-X-MEDIA-SEQUENCE:{first}"]
    for n in range(first, first + count):
        if n == out_at:
            lines.append(f"#EXT-X-CUE-OUT:DURATION={duration}")
        if in_at is not None and n == in_at:
            lines.append("#EXT-X-CUE-IN")
        lines += ["#EXTINF:2.0,", f"c{n}.ts"]
    return "\n".join(lines) + "\n"


def test_early_cue_in_cuts_the_last_ad() -> None:
    state = LiveState()
    texts = []
    for first in range(0, 14):
        in_at = 9 if first + 8 > 9 else None
        origin = prepare(_sliding(first, 8, 6, in_at, 20), "https://o.example/live.m3u8")
        breaks = live_breaks(origin.playlist, state)
        plan = make_plan(breaks, {b.id: [fake_ad("x", 10.0)] for b in breaks})
        text, state = stitch_live(origin, plan, StitchOptions(), state)
        texts.append(text)
    final = parse_media(texts[5])  # window 5..12 (content c9 resumes after a 6 s avail)
    uris = [s.uri.rsplit("/", 1)[-1] for s in final.segments]
    assert uris[:4] == ["c5.ts", "s0.ts", "s1.ts", "s2.ts"] and uris[4] == "c9.ts"
    assert final.segments[4].discontinuity
    # numbering continues across the cut
    later = parse_media(texts[8])
    positions = {s.uri: s.sequence for s in final.segments}
    assert all(positions[s.uri] == s.sequence for s in later.segments if s.uri in positions)


def test_avail_suppression_behind_the_edge_keeps_content() -> None:
    origin = prepare(_sliding(0, 10, 1, 4, 6), "https://o.example/live.m3u8")
    breaks = find_breaks(origin.playlist)
    plan = make_plan(breaks, {b.id: [fake_ad("x", 6.0)] for b in breaks})
    text, state = stitch_live(origin, plan, StitchOptions(suppress_behind_edge_s=8.0), LiveState())
    assert "ads.example" not in text and "c2.ts" in text
    assert not state.breaks[0].filled
