"""The shipped models, served through the serving code path (column selection and the
manifest's calibration map), are calibrated on held-out synthetic impressions drawn
with a seed the training script never used, and close to the known true probabilities."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from decision.models import features as F
from decision.models import synthetic
from decision.models.serving import ModelScorer
from tests.models.support import SHIPPED, settings

HELD_OUT_SEED = 7  # training uses 20240601
OUTCOME = {"complete": ("complete", "p_complete"), "click": ("click", "p_click"), "viewable": ("viewable", "p_viewable")}


@pytest.fixture(scope="module")
def held_out() -> synthetic.Impressions:
    return synthetic.impressions(400_000, HELD_OUT_SEED)


@pytest.fixture(scope="module")
def predictions(held_out) -> dict[str, tuple[str, np.ndarray]]:
    """{model name: (target, calibrated predictions)} from the scorer's loaded versions."""

    async def run() -> dict[str, tuple[str, np.ndarray]]:
        scorer = ModelScorer(SHIPPED, settings=settings())
        await scorer.start()
        try:
            out = {}
            for name, slot in scorer.slots.items():
                model = slot.state.active
                assert model is not None and model.version == "1"
                out[name] = (model.manifest.target, model.predict_batch(held_out.x))
            return out
        finally:
            await scorer.stop()

    return asyncio.run(run())


@pytest.mark.parametrize("name", ["completion", "click", "viewable"])
def test_calibration_ratio_on_held_out_data(predictions, held_out, name):
    target, p = predictions[name]
    outcome, truth = OUTCOME[target]
    observed = getattr(held_out, outcome)
    ratio = p.sum() / observed.sum()
    assert 0.95 <= ratio <= 1.05, f"{name}: sum predicted / observed = {ratio:.4f}"
    # and the model learned the world, not just its base rate
    assert np.mean(np.abs(p - getattr(held_out, truth))) < 0.02
    assert np.corrcoef(p, getattr(held_out, truth))[0, 1] > 0.9


def test_click_model_learns_interactions_a_linear_model_cannot(predictions, held_out):
    """sports x auto is an interaction in the true click model (lift ~2.6 over drama x
    auto, of which the genre main effect alone explains ~1.2): the boosted trees see most
    of it and do not overshoot."""
    p = predictions["click"][1]
    x = held_out.x
    sports_auto = (x[:, F.FEATURE_INDEX["genre=sports"]] == 1) & (x[:, F.FEATURE_INDEX["ad_category=auto"]] == 1)
    other_auto = (x[:, F.FEATURE_INDEX["genre=drama"]] == 1) & (x[:, F.FEATURE_INDEX["ad_category=auto"]] == 1)
    lift_true = held_out.p_click[sports_auto].mean() / held_out.p_click[other_auto].mean()
    lift_model = p[sports_auto].mean() / p[other_auto].mean()
    assert lift_true > 2.2
    assert 1.6 < lift_model < lift_true * 1.1
