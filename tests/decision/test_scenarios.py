"""Scenario files (tests/scenarios/*.json): a catalog slice, a request, breaks -> expected pods.

Format: {"description", "now" (ISO 8601), "catalog" (catalog JSON; a creative without
media gets the demo MP4 of its duration), "config" (EngineConfig fields; "auction" and
"policy" as objects), "request" (query parameters as the gateway gets them), "history"
(StreamHistory fields, optional), "breaks" ([BreakSpec fields]), "expect" (one entry per
pod: {"ads": [{"line_item", "creative", "price_micros"?}], "solver"?}), "expect_dropped"
({line item: reason} found in the trace of the first pod)}.
"""

from __future__ import annotations

import json
import random
from datetime import datetime
from pathlib import Path

import pytest

from decision.auction import AuctionConfig
from decision.catalog import parse_catalog
from decision.engine import Engine, EngineConfig
from decision.pod import BreakSpec, StreamHistory
from decision.policy import PolicyConfig
from decision.request import parse_ad_request
from store import MemoryStore
from tests.decision.builders import MEDIA, VirtualClock

SCENARIOS = sorted((Path(__file__).resolve().parents[1] / "scenarios").glob("*.json"))


def _config(raw: dict) -> EngineConfig:
    raw = dict(raw)
    if "auction" in raw:
        raw["auction"] = AuctionConfig(**raw["auction"])
    if "policy" in raw:
        raw["policy"] = PolicyConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw["policy"].items()})
    return EngineConfig(podding_time_box_s=None, **raw)


def test_there_are_scenarios():
    assert len(SCENARIOS) >= 4


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
async def test_scenario(path: Path) -> None:
    sc = json.loads(path.read_bytes())  # noqa: ASYNC240 - a small local fixture file
    doc = sc["catalog"]
    for cr in doc["creatives"]:
        if "media" not in cr and "vast_tag_url" not in cr:
            cr["media"] = [{"url": f"/demo/ads/{MEDIA[int(cr['duration_s'])]}.mp4"}]
    now = datetime.fromisoformat(sc["now"]).timestamp()
    e = Engine(parse_catalog(doc), store=MemoryStore(), clock=VirtualClock(now), rng=random.Random(0),
               config=_config(sc.get("config", {})))
    history = StreamHistory(**{k: tuple(v) for k, v in sc["history"].items()}) if "history" in sc else None
    pods = await e.decide(parse_ad_request(sc["request"]), [BreakSpec(**b) for b in sc["breaks"]], history, trace=True)
    assert len(pods) == len(sc["expect"])
    for pod, want in zip(pods, sc["expect"], strict=True):
        got = [{"line_item": a.line_item_id, "creative": a.creative.id, "price_micros": a.price_micros} for a in pod.ads]
        assert [{k: g[k] for k in w} for g, w in zip(got, want["ads"], strict=False)] == want["ads"], got
        assert len(got) == len(want["ads"]), got
        if "solver" in want:
            assert pod.solver == want["solver"]
        assert pod.filled_s <= pod.break_spec.duration_s
    dropped = {d["line_item"]: d["reason"] for d in pods[0].trace["dropped"]}
    for lid, reason in sc.get("expect_dropped", {}).items():
        assert dropped.get(lid) == reason, (lid, dropped.get(lid))
