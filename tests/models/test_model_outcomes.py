"""Calibration from the beacon counters: the counter increments per event, the mature
cohorts, and `ModelScorer.refresh_outcomes` feeding the monitor, the admin view, the
Prometheus gauge and the canary rollback."""

from __future__ import annotations

import asyncio
import math

import orjson
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from decision.models import outcomes
from decision.models.monitor import MonitorCollector
from store import MemoryStore
from tests.models.support import (
    candidates,
    halved,
    registry_with_shipped,
    request,
    settings,
    started,
)

NOW = 1_800_000_000.0  # a cohort boundary: 1_800_000_000 % 300 == 0
MODEL = {"complete": "completion@1", "click": "click@1", "p_complete": 0.75, "p_click": 0.0042}


@pytest.fixture
def registry(tmp_path):
    return registry_with_shipped(tmp_path / "registry")


def as_dict(ops):
    out: dict[str, int] = {}
    for key, amount, _ in ops:
        out[key] = out.get(key, 0) + amount
    return out


def test_impression_adds_predictions_and_outcome_events_add_observations():
    cohort = outcomes.cohort_of(NOW + 42)
    assert cohort == NOW
    ops = outcomes.outcome_ops("impression", MODEL, NOW + 42)
    assert as_dict(ops) == {
        "calib:completion@1:n": 1, "calib:completion@1:pred": 750_000,
        f"calib:completion@1:{cohort}:n": 1, f"calib:completion@1:{cohort}:pred": 750_000,
        "calib:click@1:n": 1, "calib:click@1:pred": 4_200,
        f"calib:click@1:{cohort}:n": 1, f"calib:click@1:{cohort}:pred": 4_200,
    }
    # all-time counters live forever, cohorts expire
    assert {ttl for key, _, ttl in ops if key.count(":") == 2} == {None}
    assert {ttl for key, _, ttl in ops if key.count(":") == 3} == {outcomes.COHORT_TTL_S}
    assert as_dict(outcomes.outcome_ops("complete", MODEL, NOW + 42)) == {
        "calib:completion@1:obs": 1, f"calib:completion@1:{cohort}:obs": 1}
    assert as_dict(outcomes.outcome_ops("click", MODEL, NOW + 42)) == {
        "calib:click@1:obs": 1, f"calib:click@1:{cohort}:obs": 1}
    assert outcomes.outcome_ops("midpoint", MODEL, NOW) == []
    # no scheduled start: the all-time counters only
    assert as_dict(outcomes.outcome_ops("complete", MODEL, None)) == {"calib:completion@1:obs": 1}


@pytest.mark.parametrize("model", [
    None, {}, "completion@1",
    {"complete": "priors", "click": "priors", "p_complete": 0.5, "p_click": 0.01},
    {"complete": "constant", "click": "T3", "p_complete": 0.5, "p_click": 0.01},
    {"complete": "@1", "click": "click@", "p_complete": 0.5, "p_click": 0.01},
])
def test_only_model_versions_are_counted(model):
    for event in ("impression", "complete", "click"):
        assert outcomes.outcome_ops(event, model, NOW) == []


def test_unusable_predictions_are_not_counted_and_others_are_clamped():
    for bad in (None, "0.5", True, math.nan, math.inf):
        assert outcomes.outcome_ops("impression", {**MODEL, "p_click": None, "p_complete": bad}, None) == []
    assert as_dict(outcomes.outcome_ops("impression", {**MODEL, "click": None, "p_complete": 1.5}, None)) == {
        "calib:completion@1:n": 1, "calib:completion@1:pred": 1_000_000}


def test_mature_cohorts_end_before_the_maturity_and_start_within_the_window():
    got = outcomes.mature_cohorts(NOW + 100, window_s=3600, maturity_s=600)
    # NOW + 100 - 600 falls in the cohort starting NOW - 600, which has not ended then
    assert got[-1] == NOW - 900 and got[-1] + outcomes.COHORT_S <= NOW + 100 - 600
    assert got[0] == outcomes.cohort_of(NOW + 100 - 3600) and len(got) == 10
    assert outcomes.mature_cohorts(NOW, window_s=300, maturity_s=600) == []


async def test_read_cohorts_sums_per_label():
    store = MemoryStore()
    await store.incr_many([(outcomes.key("a@1", "n", NOW), 3, None), (outcomes.key("a@1", "n", NOW + 300), 4, None),
                           (outcomes.key("a@1", "obs", NOW), 2, None), (outcomes.key("b@1", "pred", NOW), 9, None)])
    got = await outcomes.read_cohorts(store, ["a@1", "b@1", "c@1"], [NOW, NOW + 300])
    assert got == {"a@1": (7, 0, 2), "b@1": (0, 9, 0), "c@1": (0, 0, 0)}
    assert await outcomes.read_cohorts(store, ["a@1"], []) == {"a@1": (0, 0, 0)}


async def put(store, label: str, cohort: float, *, n: int, pred: float, obs: int) -> None:
    """What the consumer would have counted for `n` impressions of one cohort."""
    await store.incr_many([(outcomes.key(label, "n", int(cohort)), n, None),
                           (outcomes.key(label, "pred", int(cohort)), round(pred * outcomes.MICRO), None),
                           (outcomes.key(label, "obs", int(cohort)), obs, None)])


async def test_refresh_feeds_mature_cohorts_once(registry):
    store = MemoryStore()
    scorer = await started(registry, store=store, settings=settings(outcomes_interval_s=None))
    try:
        await scorer.score(request(), candidates(5))
        old = NOW - 3600
        await put(store, "completion@1", old, n=1000, pred=730.0, obs=720)
        await put(store, "click@1", old, n=1000, pred=4.0, obs=5)
        await put(store, "completion@1", NOW - 300, n=1000, pred=730.0, obs=100)  # not mature yet
        totals = await scorer.refresh_outcomes(now=NOW)
        assert totals["completion@1"] == (1000, 730_000_000, 720)
        cal = scorer.describe_model("completion")["active"]["stats"]["calibration"]
        assert cal == {"impressions": 1000, "predicted": 730.0, "observed": 720, "ratio": pytest.approx(730 / 720, abs=1e-4)}
        # reading again changes nothing: only differences are fed
        await scorer.refresh_outcomes(now=NOW)
        assert scorer.describe_model("completion")["active"]["stats"]["calibration"]["impressions"] == 1000
        # later the next cohort has matured (with its late completes) and is added
        await put(store, "completion@1", NOW - 300, n=0, pred=0.0, obs=620)
        await scorer.refresh_outcomes(now=NOW + 900)
        cal = scorer.describe_model("completion")["active"]["stats"]["calibration"]
        assert (cal["impressions"], cal["observed"]) == (2000, 1440)
        assert cal["ratio"] == pytest.approx(1460 / 1440, abs=1e-4)
        assert scorer.describe_model("click")["active"]["stats"]["calibration"]["ratio"] == pytest.approx(0.8)
        view = orjson.loads(orjson.dumps(scorer.describe()))
        assert view["outcomes"]["refreshed_at"] == NOW + 900 and view["outcomes"]["error"] is None
        # cohorts that age out of the window leave the totals again
        await scorer.refresh_outcomes(now=NOW + scorer.settings.calibration_window_s + 3600)
        assert scorer.describe_model("completion")["active"]["stats"]["calibration"]["impressions"] == 0

        reg = CollectorRegistry()
        reg.register(MonitorCollector([scorer.monitor]))
        await scorer.refresh_outcomes(now=NOW + 900)
        text = generate_latest(reg).decode()
        assert 'adgw_model_calibration_ratio{model="completion",version="1"} 1.01' in text
    finally:
        await scorer.stop()


async def test_canary_rolls_back_on_calibration_from_counters(registry):
    halved(registry)
    store = MemoryStore()
    scorer = await started(registry, store=store, settings=settings(outcomes_interval_s=None))
    try:
        await scorer.activate("completion", "1")
        await scorer.configure("completion", canary_version="2", canary_percent=50)
        await put(store, "completion@1", NOW - 3600, n=1000, pred=730.0, obs=720)
        await put(store, "completion@2", NOW - 3600, n=50, pred=20.0, obs=36)
        await scorer.refresh_outcomes(now=NOW)
        assert scorer.slots["completion"].state.canary is not None  # below the minimum sample
        await put(store, "completion@2", NOW - 3000, n=950, pred=340.0, obs=664)
        await scorer.refresh_outcomes(now=NOW)
        assert scorer.slots["completion"].state.canary is None
        view = scorer.describe_model("completion")
        assert view["last_rollback"]["version"] == "2"
        assert view["last_rollback"]["reason"].startswith("calibration ratio 0.5")
    finally:
        await scorer.stop()


async def test_a_well_calibrated_canary_stays(registry):
    halved(registry)
    store = MemoryStore()
    scorer = await started(registry, store=store, settings=settings(outcomes_interval_s=None))
    try:
        await scorer.activate("completion", "1")
        await scorer.configure("completion", canary_version="2", canary_percent=50)
        await put(store, "completion@1", NOW - 3600, n=1000, pred=730.0, obs=720)
        await put(store, "completion@2", NOW - 3600, n=1000, pred=365.0, obs=350)
        await scorer.refresh_outcomes(now=NOW)
        assert scorer.slots["completion"].state.canary is not None
        assert scorer.describe_model("completion")["canary"]["stats"]["calibration"]["observed"] == 350
    finally:
        await scorer.stop()


async def test_the_refresh_loop_runs_with_a_store_and_survives_errors(registry):
    class Broken(MemoryStore):
        async def get_ints(self, keys):
            raise ConnectionError("store down")

    scorer = await started(registry, store=Broken(), settings=settings(outcomes_interval_s=0.01))
    try:
        for _ in range(100):
            if scorer.outcomes_state["error"]:
                break
            await asyncio.sleep(0.01)
        assert scorer.outcomes_state["error"] == "store down"
        assert scorer._outcomes_task is not None and not scorer._outcomes_task.done()
    finally:
        await scorer.stop()
    assert scorer._outcomes_task is None
    without_store = await started(registry, settings=settings())
    try:
        assert without_store._outcomes_task is None and await without_store.refresh_outcomes() == {}
    finally:
        await without_store.stop()


async def test_each_batch_names_the_version_that_scored_each_target(registry):
    halved(registry)
    scorer = await started(registry)
    try:
        batch = await scorer.score(request(), candidates(5))
        assert batch.meta["models"] == {"complete": "completion@2", "click": "click@1", "viewable": "viewable@1"}
        await scorer.activate("completion", "1")
        await scorer.configure("completion", canary_version="2", canary_percent=50)
        seen = {(await scorer.score(request(f"d{i}"), candidates(3))).meta["models"]["complete"] for i in range(40)}
        assert seen == {"completion@1", "completion@2"}
    finally:
        await scorer.stop()


async def test_targets_served_by_priors_say_so(tmp_path):
    scorer = await started(registry_with_shipped(tmp_path / "registry", names=("click",)))
    try:
        batch = await scorer.score(request(), candidates(5))
        assert batch.meta["models"] == {"complete": "priors", "click": "click@1"}
    finally:
        await scorer.stop()
