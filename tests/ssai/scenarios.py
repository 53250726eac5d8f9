"""The golden scenarios: each fixture playlist stitched with fixed ads and options."""

from __future__ import annotations

import os

from ssai.plan import AdMedia, CueOffsets, FillPolicy, find_breaks, make_plan
from ssai.stitch import LiveState, StitchOptions, prepare, stitch, stitch_live
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
}


def run(name: str) -> str:
    cfg = SCENARIOS[name]
    origin = prepare((FIXTURES / f"{name}.m3u8").read_text(), ORIGIN + f"{name}.m3u8")
    breaks = find_breaks(origin.playlist, cfg.get("offsets"))
    if cfg.get("fmp4"):
        chosen = {b.id: [fake_ad("f6", 6.0, fmp4=True)] for b in breaks}
    else:
        chosen = {b.id: ads_for(i) for i, b in enumerate(breaks)}
    plan = make_plan(breaks, chosen, FillPolicy(slate=SLATE))
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
