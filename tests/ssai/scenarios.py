"""The golden scenarios: each fixture playlist stitched with fixed ads and options."""

from __future__ import annotations

import os
from dataclasses import replace

from ssai.plan import AdMedia, CueOffsets, FillPolicy, find_breaks, make_plan
from ssai.stitch import LiveState, StitchOptions, prepare, stitch, stitch_live
from ssai.timeline import anchor_of, with_preroll
from tests.ssai.helpers import FIXTURES, GOLDEN, fake_ad

SLATE = AdMedia("slate", 2.0, fake_ad("slate", 2.0).variants, kind="slate")
ORIGIN = "https://origin.example/live/v1/"


def ads_for(index: int) -> list[AdMedia]:
    return [[fake_ad("a6", 6.0)], [fake_ad("b4", 4.0), fake_ad("c2", 2.0)]][index % 2]


SCENARIOS = {
    "elemental_live": {},
    "wowza_live": {},
    "anvato_bare_live": {},
    "daterange_live": {"ad_metadata": True},
    "oatcls_vod": {},
    "splicepoint_vod": {"marker_passthrough": True},
    "aes128_vod": {},
    "fmp4_byterange_vod": {"fmp4": True, "ad_metadata": True},
    "nomarkers_vod": {"offsets": CueOffsets(pre=True, mids=(9.0,), post=True, duration_s=6.0)},
    # fill policies: 1 s bumpers around every pod; live, 6 s of ads and 2 s of bumpers in a
    # 10 s break underfill by 2 s, within a 3 s threshold, so slate fills the rest
    "bumpers_vod": {"fixture": "nomarkers_vod", "bumpers": True,
                    "offsets": CueOffsets(pre=True, mids=(9.0,), post=True, duration_s=8.0)},
    "bumpers_live": {"fixture": "elemental_live", "bumpers": True, "threshold": 3.0},
    # a live pre-roll of 6 s over the first playlist a session sees, before its markers
    "preroll_live": {"fixture": "elemental_live", "preroll": 6.0},
}

BUMPER_IN = AdMedia("bumper-in", 1.0, fake_ad("bin", 1.0, segment_s=1.0).variants, kind="bumper")
BUMPER_OUT = AdMedia("bumper-out", 1.0, fake_ad("bout", 1.0, segment_s=1.0).variants, kind="bumper")


def run(name: str) -> str:
    cfg = SCENARIOS[name]
    fixture = cfg.get("fixture", name)
    origin = prepare((FIXTURES / f"{fixture}.m3u8").read_text(), ORIGIN + f"{fixture}.m3u8")
    if cfg.get("preroll"):
        anchor = anchor_of(origin.playlist)
        assert anchor is not None
        breaks = with_preroll(origin.playlist, LiveState(), anchor, cfg["preroll"])
    else:
        breaks = find_breaks(origin.playlist, cfg.get("offsets"))
    if cfg.get("fmp4"):
        chosen = {b.id: [fake_ad("f6", 6.0, fmp4=True)] for b in breaks}
    else:
        chosen = {b.id: ads_for(i) for i, b in enumerate(breaks)}
    policy = FillPolicy(slate=SLATE, personalization_threshold_s=cfg.get("threshold"))
    if cfg.get("bumpers"):
        policy = replace(policy, start_bumper=BUMPER_IN, end_bumper=BUMPER_OUT)
    plan = make_plan(breaks, chosen, policy)
    options = StitchOptions(marker_passthrough=cfg.get("marker_passthrough", False),
                            ad_metadata=cfg.get("ad_metadata", False))  # fmt: skip
    if origin.playlist.is_live:
        text, _ = stitch_live(origin, plan, options, LiveState())
        return text
    return stitch(origin, plan, options)


def golden(name: str) -> str:
    path = GOLDEN / f"{name}.m3u8"
    if os.environ.get("SSAI_UPDATE_GOLDEN") == "1":
        path.write_text(run(name))
    return path.read_text()
