"""Every placed ad records the predictions that placed it and what made them (the model
version per target, or the fallback), so outcomes can be matched to predictions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from decision.engine import served_by
from decision.pod import BreakSpec
from decision.priors import PriorScorer
from decision.request import AdRequest
from decision.scoring import ScoreBatch
from tests.decision.builders import adv, catalog, creative, engine, li

REQ = AdRequest(sid="s1", country="US", rating="TV-14")


def doc():
    return catalog(
        [adv("a1", "IAB2"), adv("a2", "IAB8-5"), adv("a3", "IAB13-7")],
        [creative("c1", "a1", 15), creative("c2", "a2", 15), creative("c3", "a3", 15)],
        [li("l1", "a1", ["c1"], rate=30_000_000), li("l2", "a2", ["c2"], rate=20_000_000),
         li("l3", "a3", ["c3"], rate=10_000_000)],
    )


class Fixed:
    """A scorer with a known score per line item and a named version per target."""

    def __init__(self, meta: dict[str, Any] | None, versions: tuple[str, ...] = ("completion@7", "click@3")) -> None:
        self.meta = meta
        self.versions = versions

    async def score(self, request: AdRequest, candidates: Sequence[Any], *, deadline: float | None = None) -> ScoreBatch:
        pc = [{"l1": 0.91, "l2": 0.82, "l3": 0.73}[c.line_item.id] for c in candidates]
        pk = [{"l1": 0.003, "l2": 0.002, "l3": 0.001}[c.line_item.id] for c in candidates]
        return ScoreBatch(pc, pk, "T0", versions=self.versions, meta=self.meta)


async def test_placed_ads_carry_their_scores_and_model_versions():
    e = engine(doc(), scorer=Fixed({"models": {"complete": "completion@7", "click": "click@3"}}))
    (pod,) = await e.decide(REQ, [BreakSpec("b1", 45)])
    assert {a.line_item_id for a in pod.ads} == {"l1", "l2", "l3"}
    for ad in pod.ads:
        expected = {"l1": (0.91, 0.003), "l2": (0.82, 0.002), "l3": (0.73, 0.001)}[ad.line_item_id]
        assert (ad.p_complete, ad.p_click) == pytest.approx(expected)
        assert (ad.complete_model, ad.click_model) == ("completion@7", "click@3")
        assert isinstance(ad.p_complete, float) and isinstance(ad.p_click, float)


async def test_priors_are_named_as_such():
    e = engine(doc())  # the engine's own priors path
    (pod,) = await e.decide(REQ, [BreakSpec("b1", 45)])
    assert pod.ads and all(a.complete_model == a.click_model == "priors" for a in pod.ads)
    assert all(0.0 < a.p_complete < 1.0 and 0.0 <= a.p_click < 1.0 for a in pod.ads)


async def test_a_failing_scorer_falls_back_to_named_priors():
    class Broken:
        async def score(self, request, candidates, *, deadline=None):
            raise RuntimeError("model down")

    (pod,) = await engine(doc(), scorer=Broken()).decide(REQ, [BreakSpec("b1", 45)])
    assert pod.ads and all(a.complete_model == "priors" and a.p_complete is not None for a in pod.ads)


def test_served_by_prefers_the_per_target_names():
    assert served_by(ScoreBatch((), (), "T1", ("completion@1", "click@2"),
                                {"models": {"complete": "completion@1", "click": "priors"}})) == ("completion@1", "priors")
    assert served_by(ScoreBatch((), (), "T2", ("priors",))) == ("priors", "priors")
    # a scorer that does not say: its tier
    assert served_by(ScoreBatch((), (), "T0", ("a@1", "b@1"))) == ("T0", "T0")
    assert served_by(ScoreBatch((), (), "T0", (), {"models": {"complete": "a@1"}})) == ("a@1", "T0")
    assert PriorScorer().tier == "T2"
