import json

import pytest

from decision.catalog import parse_catalog
from decision.pod import BreakSpec, StreamHistory
from decision.request import AdRequest
from tests.decision.builders import NOW, adv, catalog, creative, engine, li


def basic_doc(**li_extra):
    return catalog(
        [adv("auto1", "IAB2"), adv("auto2", "IAB2"), adv("beer", "IAB8-5"), adv("bank", "IAB13-7"),
         adv("house", "IAB1-7")],
        [creative("c-auto1", "auto1", 15), creative("c-auto2", "auto2", 15), creative("c-beer", "beer", 15),
         creative("c-bank", "bank", 15), creative("c-bank30", "bank", 30), creative("c-house", "house", 15)],
        [li("l-auto1", "auto1", ["c-auto1"], rate=30_000_000, **li_extra),
         li("l-auto2", "auto2", ["c-auto2"], rate=25_000_000),
         li("l-beer", "beer", ["c-beer"], rate=20_000_000),
         li("l-bank", "bank", ["c-bank", "c-bank30"], rate=15_000_000),
         li("l-house", "house", ["c-house"], tier="house", rate=0)],
    )


REQ = AdRequest(sid="s1", country="US", rating="TV-14")


async def test_tiers_value_and_competitive_separation():
    e = engine(basic_doc())
    (pod,) = await e.decide(REQ, [BreakSpec("b1", 60)])
    assert [a.line_item_id for a in pod.ads] == ["l-auto1", "l-beer", "l-bank", "l-house"]
    assert [a.offset_s for a in pod.ads] == [0, 15, 30, 45]
    assert pod.solver == "dp" and pod.filled_s == 60
    assert len({a.imp_id for a in pod.ads}) == 4


async def test_trace_says_why_and_is_json():
    e = engine(basic_doc())
    (pod,) = await e.decide(AdRequest(sid="s1", rating="TV-G"), [BreakSpec("b1", 30)], trace=True)
    tr = json.loads(json.dumps(pod.trace))
    reasons = {(d["line_item"], d["reason"]) for d in tr["dropped"]}
    assert ("l-beer", "kids_content") in reasons
    assert ("l-auto2", "not_selected") in reasons
    assert tr["solver"] == "dp" and tr["catalog_version"] == "test-1"
    assert [s["line_item"] for s in tr["selected"]] == [a.line_item_id for a in pod.ads]
    assert (await e.decide(REQ, [BreakSpec("b1", 30)]))[0].trace is None


async def test_vmap_breaks_share_caps_and_stream_separation():
    e = engine(basic_doc(caps=[{"n": 1, "per": "day"}]))
    pods = await e.decide(REQ, [BreakSpec("pre", 15, "pre"), BreakSpec("m1", 15), BreakSpec("m2", 15)])
    ids = [a.line_item_id for p in pods for a in p.ads]
    assert ids[0] == "l-auto1"
    assert ids.count("l-auto1") == 1
    assert "l-auto2" not in ids  # a competitor of auto1 in the same stream
    again = await e.decide(REQ, [BreakSpec("b", 15)])
    assert again[0].ads[0].line_item_id != "l-auto1"  # the day cap was reserved


async def test_history_blocks_stream_competitors_and_stream_caps():
    doc = basic_doc(caps=[{"n": 1, "per": "stream"}])
    e = engine(doc)
    hist = StreamHistory(line_item_ids=("l-auto1",), advertiser_ids=("auto1",), iab_categories=("IAB2",))
    (pod,) = await e.decide(REQ, [BreakSpec("b", 60)], hist, trace=True)
    ids = [a.line_item_id for a in pod.ads]
    assert "l-auto1" not in ids and "l-auto2" not in ids
    reasons = {(d["line_item"], d["reason"]) for d in pod.trace["dropped"]}
    assert ("l-auto1", "frequency_cap") in reasons and ("l-auto2", "stream_separation") in reasons


async def test_flight_daypart_and_swap():
    doc = basic_doc()
    doc["line_items"][0]["flight"] = {"start": "2027-01-01T00:00:00Z", "end": "2027-02-01T00:00:00Z"}
    doc["line_items"][2]["dayparts"] = [{"days": [5, 6]}]  # weekends; NOW is a Thursday
    e = engine(doc)
    (pod,) = await e.decide(REQ, [BreakSpec("b", 15)], trace=True)
    reasons = {(d["line_item"], d["reason"]) for d in pod.trace["dropped"]}
    assert ("l-auto1", "out_of_flight") in reasons and ("l-beer", "daypart") in reasons
    assert pod.ads[0].line_item_id == "l-auto2"
    old = e.swap_catalog(parse_catalog(basic_doc()))
    assert old.version == "test-1"
    (pod,) = await e.decide(REQ, [BreakSpec("b", 15)])
    assert pod.ads[0].line_item_id == "l-auto1"


async def test_closed_pacing_gate_drops_with_reason():
    class Gate:
        def participation(self, line_item_id, now):
            assert now == NOW
            return 0.0 if line_item_id == "l-auto1" else 1.0

    e = engine(basic_doc(), pacing=Gate())
    (pod,) = await e.decide(REQ, [BreakSpec("b", 15)], trace=True)
    assert pod.ads[0].line_item_id == "l-auto2"
    assert {"line_item": "l-auto1", "creative": "c-auto1", "stage": "pacing", "reason": "paced",
            "detail": None} in pod.trace["dropped"]


async def test_failing_scorer_falls_back_to_priors():
    class Broken:
        async def score(self, request, candidates, *, deadline=None):
            assert all(hasattr(c, "line_item") and hasattr(c, "creative") for c in candidates)
            raise RuntimeError("model gone")

    e = engine(basic_doc(), scorer=Broken())
    (pod,) = await e.decide(REQ, [BreakSpec("b", 30)])
    assert pod.fallback_tier == "T2" and pod.ads


async def test_cpcv_uses_predicted_completion():
    from decision.scoring import ScoreBatch

    class Fixed:
        async def score(self, request, candidates, *, deadline=None):
            return ScoreBatch([0.5] * len(candidates), [0.0] * len(candidates), "T0")

    doc = catalog([adv("a", "IAB2"), adv("b", "IAB3")], [creative("ca", "a"), creative("cb", "b")],
                  [li("la", "a", ["ca"], goal="CPCV", rate=50_000), li("lb", "b", ["cb"], rate=30_000_000)])
    (pod,) = await engine(doc, scorer=Fixed()).decide(REQ, [BreakSpec("b", 15)])
    assert pod.ads[0].line_item_id == "lb"  # 50,000 x 0.5 x 1000 = $25 CPM < $30
    assert pod.fallback_tier == "T0"


async def test_deterministic_with_seed_and_virtual_clock():
    a = await engine(basic_doc(), seed=9).decide(REQ, [BreakSpec("b", 60)])
    b = await engine(basic_doc(), seed=9).decide(REQ, [BreakSpec("b", 60)])
    assert a == b


@pytest.mark.parametrize("max_ads", [1, 2])
async def test_break_max_ads(max_ads):
    (pod,) = await engine(basic_doc()).decide(REQ, [BreakSpec("b", 120, max_ads=max_ads)])
    assert len(pod.ads) == max_ads
