"""ModelScorer: batched scoring, tiered fallback within the request budget, hot swap
under load, canary routing and rollback, shadow scoring, registry poll, admin view."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import orjson
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from decision.models.errors import ModelConfigError, ModelNotFound
from decision.models.manifest import MODEL_FILE
from decision.models.monitor import register_default_collector
from decision.models.serving import canary_bucket
from decision.models.validate import publish_model
from decision.scoring import ScoreBatch, Scorer
from store import MemoryStore
from tests.models.support import (
    SHIPPED,
    WrappingFactory,
    candidates,
    copy_version,
    halved,
    registry_with_shipped,
    request,
    reseal,
    settings,
    started,
)

SLACK_S = 0.03  # scheduling slack on two shared, busy cores


def elapsed_since(t0: float) -> float:
    return time.monotonic() - t0


@pytest.fixture
def registry(tmp_path):
    return registry_with_shipped(tmp_path / "registry")


async def test_scores_every_candidate_in_one_batch_with_all_models(registry):
    scorer = await started(registry)
    try:
        assert isinstance(scorer, Scorer)
        cands = candidates(200)
        batch = await scorer.score(request(), cands, deadline=time.monotonic() + 0.05)
        assert isinstance(batch, ScoreBatch)
        assert batch.tier == "T0"
        assert sorted(batch.versions) == ["click@1", "completion@1", "viewable@1"]
        assert len(batch.p_complete) == len(batch.p_click) == len(batch.meta["p_viewable"]) == 200
        pc, pk = np.array(batch.p_complete), np.array(batch.p_click)
        assert np.all((pc > 0) & (pc < 1)) and np.all((pk > 0) & (pk < 1))
        assert pc.std() > 0.01 and pk.std() > 0.001  # candidates differ
        # the ad side matters: 60 s creatives complete less than 15 s ones in the synthetic world
        long = [i for i, c in enumerate(cands) if c.creative.duration_s == 60.0]
        short = [i for i, c in enumerate(cands) if c.creative.duration_s == 15.0]
        assert pc[long].mean() < pc[short].mean()
        # one run per model per request
        stats = {name: s.calls for (name, _), s in scorer.monitor.versions.items()}
        assert stats == {"completion": 1, "click": 1, "viewable": 1}
        assert (await scorer.score(request(), [], deadline=time.monotonic() + 0.05)).p_complete == []
    finally:
        await scorer.stop()


async def test_request_context_changes_scores(registry):
    scorer = await started(registry)
    try:
        cands = candidates(20)
        ctv = await scorer.score(request(device_type="ctv"), cands)
        mobile = await scorer.score(request(device_type="mobile"), cands)
        assert np.mean(mobile.p_complete) < np.mean(ctv.p_complete)
        assert np.mean(mobile.p_click) > np.mean(ctv.p_click)
    finally:
        await scorer.stop()


async def test_entity_features_from_the_store_change_scores(registry):
    store = MemoryStore()
    scorer = await started(registry, store=store, settings=settings(hydration_timeout_s=0.05))
    try:
        cands = candidates(10)
        req = request("sess-store")
        before = await scorer.score(req, cands)
        assert before.meta["features"]["defaulted"] == before.meta["features"]["total"]
        await store.hset(f"feat:user:{req.ifa}", {"completion_rate": 0.99, "ctr": 0.2, "impressions_7d": 3})
        after = await scorer.score(req, cands)
        assert after.meta["features"]["defaulted"] == after.meta["features"]["total"] - 3
        assert np.mean(after.p_complete) > np.mean(before.p_complete) + 0.03
        assert np.mean(after.p_click) > np.mean(before.p_click)
    finally:
        await scorer.stop()


# ------------------------------------------------------------------ fallback tiers

async def test_corrupt_only_version_falls_back_to_priors(tmp_path):
    registry = registry_with_shipped(tmp_path / "r", ("click", "viewable"))
    vdir = copy_version(registry, "completion")
    (vdir / MODEL_FILE).write_bytes(b"\x00corrupt" * 100)
    reseal(vdir)
    scorer = await started(registry)
    try:
        t0 = time.monotonic()
        batch = await scorer.score(request(), candidates(200), deadline=t0 + 0.1)
        assert elapsed_since(t0) < 0.1
        assert batch.tier == "T2"
        assert batch.meta["tiers"] == {"complete": "T2", "click": "T0", "viewable": "T0"}
        assert "priors" in batch.versions and "click@1" in batch.versions
        assert len(batch.p_complete) == 200
        view = scorer.describe()["models"]["completion"]
        assert view["active"] is None and "does not load" in " ".join(view["rejected"]["1"])
        assert scorer.health()["degraded"] == ["completion"]
    finally:
        await scorer.stop()


async def test_corrupt_new_version_is_refused_and_the_active_one_keeps_serving(registry):
    vdir = copy_version(registry, "completion", "2")
    (vdir / MODEL_FILE).write_bytes(b"\x00corrupt" * 100)
    scorer = await started(registry)
    try:
        assert scorer.slots["completion"].state.active.version == "1"  # newest valid wins at start
        problems = await scorer.activate("completion", "2")
        assert any(p.startswith("completion@2: sha256 mismatch") for p in problems)
        assert any("does not load" in p for p in problems)
        with pytest.raises(ModelConfigError):
            await scorer.configure("completion", version="2")
        batch = await scorer.score(request(), candidates(50), deadline=time.monotonic() + 0.2)
        assert batch.tier == "T0" and "completion@1" in batch.versions
    finally:
        await scorer.stop()


async def test_mismatched_inputs_are_refused(tmp_path):
    registry = registry_with_shipped(tmp_path / "r", ("click", "viewable"))
    good = copy_version(registry, "completion", "1")
    bad = copy_version(registry, "completion", "2")
    (bad / MODEL_FILE).write_bytes((SHIPPED / "viewable" / "1" / MODEL_FILE).read_bytes())
    reseal(bad)
    scorer = await started(registry)
    try:
        view = scorer.describe_model("completion")
        assert view["active"]["version"] == "1"
        assert view["rejected"]["2"] == ["inputs: model takes 31 features, manifest lists 52"]
        batch = await scorer.score(request(), candidates(30), deadline=time.monotonic() + 0.2)
        assert batch.tier == "T0" and "completion@1" in batch.versions
        # with only the mismatched version left, completion comes from priors
        import shutil

        shutil.rmtree(good)
        only_bad = await started(registry)
        try:
            t0 = time.monotonic()
            batch = await only_bad.score(request(), candidates(30), deadline=t0 + 0.1)
            assert elapsed_since(t0) < 0.1
            assert batch.tier == "T2" and batch.meta["tiers"]["complete"] == "T2"
        finally:
            await only_bad.stop()
    finally:
        await scorer.stop()


async def test_failing_active_version_falls_back_to_previous_then_breaker_skips_it(registry):
    halved(registry)
    factory = WrappingFactory("completion/2")
    scorer = await started(registry, session_factory=factory)
    try:
        state = scorer.slots["completion"].state
        assert (state.active.version, state.previous.version) == ("2", "1")
        session = factory.sessions["completion/2"]
        session.fail = True
        before = session.calls
        tiers = []
        for _ in range(6):
            t0 = time.monotonic()
            batch = await scorer.score(request(), candidates(100), deadline=t0 + 0.2)
            assert elapsed_since(t0) < 0.2
            tiers.append(batch.tier)
            assert "completion@1" in batch.versions and batch.meta["tiers"]["complete"] == "T1"
        assert tiers == ["T1"] * 6
        assert session.calls - before == 3  # the breaker opened after three failures
        assert scorer.describe_model("completion")["active"]["breaker"] == "open"
    finally:
        await scorer.stop()


async def test_slow_active_version_times_out_to_previous_and_to_priors_on_a_short_deadline(registry):
    halved(registry)
    factory = WrappingFactory("completion/2")
    scorer = await started(registry, session_factory=factory,
                           settings=settings(model_timeout_s=0.05, breaker_threshold=100, max_overdue=100))
    try:
        factory.sessions["completion/2"].delay_s = 0.4
        # per-attempt timeout 50 ms, deadline 300 ms: the previous version answers (T1)
        t0 = time.monotonic()
        batch = await scorer.score(request(), candidates(200), deadline=t0 + 0.3)
        took = elapsed_since(t0)
        assert batch.tier == "T1" and "completion@1" in batch.versions
        assert 0.05 <= took < 0.3
        # a deadline shorter than the attempt timeout leaves no time for T1: priors (T2)
        t0 = time.monotonic()
        batch = await scorer.score(request(), candidates(200), deadline=t0 + 0.03)
        assert elapsed_since(t0) < 0.03 + SLACK_S
        assert batch.meta["tiers"]["complete"] == "T2" and batch.tier == "T2"
        assert len(batch.p_complete) == 200
        errors = scorer.monitor.versions[("completion", "2")].errors
        assert errors["timeout"] == 2
    finally:
        await scorer.stop()


async def test_breaker_and_overdue_runs_stop_paying_the_timeout(registry):
    halved(registry)
    factory = WrappingFactory("completion/2")
    scorer = await started(registry, session_factory=factory, settings=settings(model_timeout_s=0.1))
    try:
        factory.sessions["completion/2"].delay_s = 0.5
        t0 = time.monotonic()
        first = await scorer.score(request(), candidates(50), deadline=t0 + 0.4)
        assert first.tier == "T1" and elapsed_since(t0) >= 0.1
        # the slow run is still executing: the version is skipped without waiting
        t1 = time.monotonic()
        second = await scorer.score(request(), candidates(50), deadline=t1 + 0.4)
        assert second.tier == "T1" and elapsed_since(t1) < 0.05
        assert scorer.monitor.versions[("completion", "2")].errors["skipped"] >= 1
    finally:
        await scorer.stop()


async def test_priors_failing_means_constants(registry):
    class BrokenPriors:
        async def score(self, request, candidates, *, deadline=None):
            raise RuntimeError("priors down")

    for name in ("completion",):
        import shutil

        shutil.rmtree(registry / name)
    scorer = await started(registry, priors=BrokenPriors())
    try:
        batch = await scorer.score(request(), candidates(5))
        assert batch.tier == "T3" and batch.meta["tiers"]["complete"] == "T3"
        assert batch.meta["tiers"]["click"] == "T0"
        assert len(set(batch.p_complete)) == 1 and len(batch.p_complete) == 5
    finally:
        await scorer.stop()


async def test_no_models_at_all_serves_priors(tmp_path):
    scorer = await started(tmp_path / "empty")
    try:
        batch = await scorer.score(request(), candidates(12))
        assert batch.tier == "T2" and batch.versions == ("priors",) and len(batch.p_click) == 12
    finally:
        await scorer.stop()


# ------------------------------------------------------------------ hot swap

async def test_hot_swap_under_concurrent_load_has_zero_failed_calls(registry):
    halved(registry)
    copy_version(registry, "completion", "3")
    scorer = await started(registry, settings=settings(model_timeout_s=0.5, default_budget_s=1.0))
    try:
        await scorer.activate("completion", "1")  # active 1, previous 3
        first_session = scorer.slots["completion"].state.active
        cands = candidates(200)
        results: list[ScoreBatch] = []
        errors: list[BaseException] = []
        stop = asyncio.Event()

        async def worker(i: int) -> None:
            n = 0
            while not stop.is_set() or n < 20:
                try:
                    results.append(await scorer.score(request(f"dev-{i}-{n}"), cands))
                except BaseException as exc:  # noqa: BLE001 - counted as a failed call
                    errors.append(exc)
                n += 1

        workers = [asyncio.create_task(worker(i)) for i in range(6)]
        seen_active, inflight_at_swap = [], []
        # 2 is loaded in the background while traffic flows; later ones swap between
        # loaded sessions or load again what an earlier swap released
        for version in ("2", "1", "3", "2", "1", "3"):
            await asyncio.sleep(0.04)
            inflight_at_swap.append(sum(m.inflight for m in scorer.slots["completion"].state.models()))
            assert await scorer.activate("completion", version) == []
            seen_active.append(scorer.slots["completion"].state.active.version)
        await asyncio.sleep(0.04)
        stop.set()
        await asyncio.gather(*workers)
        assert errors == []
        assert len(results) >= 120
        assert max(inflight_at_swap) > 0  # swaps happened under in-flight requests
        assert all(b.tier == "T0" and len(b.p_complete) == 200 for b in results)
        versions = {v for b in results for v in b.versions if v.startswith("completion@")}
        assert versions == {"completion@1", "completion@2", "completion@3"}
        assert seen_active == ["2", "1", "3", "2", "1", "3"]
        state = scorer.slots["completion"].state
        assert (state.active.version, state.previous.version) == ("3", "1")
        # swapped-out sessions were released once their requests finished; none in flight
        assert first_session.closed and first_session.session is None and first_session.inflight == 0
        assert state.active.inflight == 0 and state.previous.inflight == 0
        assert scorer.describe()["retiring"] == []
    finally:
        await scorer.stop()


async def test_swapped_out_session_is_released_after_in_flight_requests(registry):
    halved(registry)
    copy_version(registry, "completion", "3")
    factory = WrappingFactory("completion/1")
    scorer = await started(registry, session_factory=factory, settings=settings(model_timeout_s=1.0, default_budget_s=2.0))
    try:
        await scorer.activate("completion", "1")  # active 1, previous 3
        v1 = scorer.slots["completion"].state.active
        factory.sessions["completion/1"].delay_s = 0.15
        pending = asyncio.create_task(scorer.score(request(), candidates(10)))
        await asyncio.sleep(0.03)  # the request is running on version 1
        assert await scorer.activate("completion", "2") == []  # 1 becomes previous
        assert await scorer.activate("completion", "3") == []  # 1 is retired, still in flight
        assert v1.retired and not v1.closed and v1.inflight > 0
        # the request also holds a lease on its T1 fallback (3 at the time), so both wait
        assert sorted(r["model"] for r in scorer.describe()["retiring"]) == ["completion@1", "completion@3"]
        batch = await pending
        assert batch.tier == "T0" and "completion@1" in batch.versions
        assert v1.closed and v1.session is None
        assert scorer.describe()["retiring"] == []
    finally:
        await scorer.stop()


async def test_registry_poll_activates_a_newly_published_version(tmp_path):
    registry = registry_with_shipped(tmp_path / "r", ("completion", "click"))
    scorer = await started(registry)
    try:
        assert await scorer.poll_once() == {}
        assert publish_model(SHIPPED / "completion" / "1", registry, "completion", "2") == []
        assert await scorer.poll_once() == {"completion@2": []}
        state = scorer.slots["completion"].state
        assert (state.active.version, state.previous.version) == ("2", "1")
        # a broken newer version is tried once, reported, and not retried until it changes
        bad = copy_version(registry, "completion", "3")
        (bad / MODEL_FILE).write_bytes(b"junk")
        tried = await scorer.poll_once()
        assert list(tried) == ["completion@3"] and tried["completion@3"]
        assert await scorer.poll_once() == {}
        assert scorer.slots["completion"].state.active.version == "2"
        # a new model appears
        assert "viewable" not in scorer.slots
        copy_version(registry, "viewable")
        assert await scorer.poll_once() == {"viewable": []}
        assert scorer.slots["viewable"].state.active.version == "1"
        assert "p_viewable" in (await scorer.score(request(), candidates(3))).meta
    finally:
        await scorer.stop()


async def test_background_poll_task_picks_up_versions(registry):
    scorer = await started(registry, settings=settings(poll_interval_s=0.05))
    try:
        assert publish_model(SHIPPED / "click" / "1", registry, "click", "2") == []
        for _ in range(100):
            if scorer.slots["click"].state.active.version == "2":
                break
            await asyncio.sleep(0.02)
        assert scorer.slots["click"].state.active.version == "2"
    finally:
        await scorer.stop()


# ------------------------------------------------------------------ canary

@pytest.mark.parametrize("percent", [10.0, 35.0])
async def test_canary_split_is_within_two_points_and_sticky(registry, percent):
    halved(registry)
    scorer = await started(registry)
    try:
        await scorer.activate("completion", "1")
        await scorer.configure("completion", canary_version="2", canary_percent=percent)
        devices = [f"device-{i:05d}" for i in range(10_000)]
        routed = [scorer.routes(request(d))["completion"] == "2" for d in devices]
        share = sum(routed) / len(devices)
        assert abs(share - percent / 100) <= 0.02
        assert routed == [scorer.routes(request(d, genre="news"))["completion"] == "2" for d in devices]
        assert all(scorer.routes(request(d))["click"] == "1" for d in devices[:100])
        # the scores themselves follow the routing (canary halves completion scores)
        cands = candidates(5)
        for d, is_canary in list(zip(devices, routed, strict=True))[:200]:
            batch = await scorer.score(request(d), cands)
            assert batch.tier == "T0"
            assert ("completion@2" in batch.versions) is is_canary
            assert ("completion@2" in batch.meta.get("canary", [])) is is_canary
    finally:
        await scorer.stop()


def test_canary_bucket_is_stable_and_salted_by_model():
    assert canary_bucket("completion", "abc") == canary_bucket("completion", "abc")
    same = sum(canary_bucket("completion", f"d{i}") < 1000 and canary_bucket("click", f"d{i}") < 1000 for i in range(10_000))
    assert same < 200  # independent 10% samples overlap by ~1%


async def test_canary_rolls_back_on_errors(registry):
    halved(registry)
    factory = WrappingFactory("completion/2")
    scorer = await started(registry, session_factory=factory, settings=settings(canary_min_calls=20))
    try:
        await scorer.activate("completion", "1")
        await scorer.configure("completion", canary_version="2", canary_percent=100)
        factory.sessions["completion/2"].fail = True
        for i in range(25):
            batch = await scorer.score(request(f"d{i}"), candidates(10))
            assert batch.tier == "T0" and "completion@1" in batch.versions  # canary failures fall back to active
        view = scorer.describe_model("completion")
        assert view["canary"] is None and view["last_rollback"]["version"] == "2"
        assert view["last_rollback"]["reason"].startswith("error rate")
    finally:
        await scorer.stop()


async def test_canary_rolls_back_on_latency(registry):
    halved(registry)
    factory = WrappingFactory("completion/2")
    scorer = await started(registry, session_factory=factory, settings=settings(canary_min_calls=20))
    try:
        await scorer.activate("completion", "1")
        for i in range(25):
            await scorer.score(request(f"warm{i}"), candidates(10))
        await scorer.configure("completion", canary_version="2", canary_percent=100)
        factory.sessions["completion/2"].delay_s = 0.08
        for i in range(25):
            assert (await scorer.score(request(f"d{i}"), candidates(10))).tier == "T0"
        rollback = scorer.describe_model("completion")["last_rollback"]
        assert rollback and rollback["reason"].startswith("p99 latency")
        assert scorer.slots["completion"].state.canary is None
    finally:
        await scorer.stop()


async def test_canary_rolls_back_on_calibration(registry):
    halved(registry)
    scorer = await started(registry)
    try:
        await scorer.activate("completion", "1")
        await scorer.configure("completion", canary_version="2", canary_percent=50)
        scorer.record_outcomes("completion", "1", predicted=730.0, observed=720, count=1000)
        scorer.record_outcomes("completion", "2", predicted=20.0, observed=36, count=50)
        assert scorer.slots["completion"].state.canary is not None  # too few outcomes yet
        scorer.record_outcomes("completion", "2", predicted=360.0, observed=700, count=950)
        assert scorer.slots["completion"].state.canary is None
        assert scorer.describe_model("completion")["last_rollback"]["reason"].startswith("calibration ratio 0.5")
        assert scorer.describe_model("completion")["active"]["stats"]["calibration"]["ratio"] == pytest.approx(730 / 720, abs=1e-3)
    finally:
        await scorer.stop()


async def test_configure_validates_its_arguments(registry):
    scorer = await started(registry)
    try:
        with pytest.raises(ModelNotFound):
            await scorer.configure("nope", canary_percent=5)
        with pytest.raises(ModelConfigError):
            await scorer.configure("completion", canary_percent=150)
        with pytest.raises(ModelNotFound):
            await scorer.configure("completion", canary_version="9", canary_percent=5)
        with pytest.raises(ModelConfigError):
            await scorer.configure("completion", canary_version="1", canary_percent=5)  # already active
        assert (await scorer.configure("completion", canary_percent=0))["canary"] is None
    finally:
        await scorer.stop()


# ------------------------------------------------------------------ shadow

async def test_shadow_never_changes_the_decision_and_logs_both_scores(registry, caplog):
    halved(registry)
    plain = await started(registry)
    shadowed = await started(registry, settings=settings(shadow_sample=1.0))
    try:
        for s in (plain, shadowed):
            await s.activate("completion", "1")
        await shadowed.configure("completion", shadow_version="2")
        cands = candidates(200)
        caplog.set_level("INFO", logger="decision.models.shadow")
        for i in range(20):
            req = request(f"dev{i}", genre=("news", "sports", "kids")[i % 3])
            a = await plain.score(req, cands)
            b = await shadowed.score(req, cands)
            assert (a.p_complete, a.p_click, a.tier, a.versions) == (b.p_complete, b.p_click, b.tier, b.versions)
        await shadowed.drain_shadow()
        records = list(shadowed.shadow_records)
        assert len(records) == 20
        last = records[-1]
        assert last["shadow"] == "completion@2" and len(last["primary"]) == len(last["shadow_scores"]) == 200
        assert last["primary"] == pytest.approx(b.p_complete, abs=1e-6)
        assert last["shadow_scores"] == pytest.approx([p / 2 for p in b.p_complete], abs=1e-5)
        logged = [r for r in caplog.records if r.name == "decision.models.shadow" and hasattr(r, "shadow_record")]
        assert len(logged) == 20 and logged[0].shadow_record["primary"] and logged[0].shadow_record["shadow_scores"]
        assert shadowed.describe()["monitor"]["shadow"]["compared"] == 20
    finally:
        await plain.stop()
        await shadowed.stop()


async def test_slow_or_failing_shadow_stays_off_the_response_path(registry):
    halved(registry)
    factory = WrappingFactory("completion/2")
    scorer = await started(registry, session_factory=factory, settings=settings(shadow_sample=1.0))
    try:
        await scorer.activate("completion", "1")
        await scorer.configure("completion", shadow_version="2")
        factory.sessions["completion/2"].delay_s = 0.5
        baseline = await scorer.score(request("x"), candidates(50))
        t0 = time.monotonic()
        for _ in range(5):
            batch = await scorer.score(request("x"), candidates(50))
            assert batch.p_complete == baseline.p_complete and batch.tier == "T0"
        assert elapsed_since(t0) < 0.25
        assert scorer.describe()["monitor"]["shadow"]["dropped"] >= 1  # bounded pending shadows
        factory.sessions["completion/2"].delay_s = 0.0
        factory.sessions["completion/2"].fail = True
        await scorer.drain_shadow()
        assert (await scorer.score(request("x"), candidates(50))).p_complete == baseline.p_complete
        await scorer.drain_shadow()
        assert scorer.monitor.versions[("completion", "2")].errors["error"] >= 1
    finally:
        await scorer.stop()


# ------------------------------------------------------------------ admin view and metrics

async def test_describe_is_json_and_metrics_are_exported(registry):
    halved(registry)
    scorer = await started(registry, store=MemoryStore())
    try:
        await scorer.activate("completion", "1")
        await scorer.configure("completion", canary_version="2", canary_percent=5, shadow_version="2")
        for i in range(30):
            await scorer.score(request(f"d{i}"), candidates(40))
        scorer.record_outcomes("click", "1", predicted=3.0, observed=3, count=100)
        view = orjson.loads(orjson.dumps(scorer.describe()))
        completion = view["models"]["completion"]
        assert completion["active"]["version"] == "1" and completion["previous"]["version"] == "2"
        assert completion["canary"]["version"] == "2" and completion["canary"]["percent"] == 5
        assert completion["shadow"]["version"] == "2"
        assert completion["versions_on_disk"] == ["1", "2"]
        stats = view["models"]["click"]["active"]["stats"]
        assert stats["calls"] == 30 and stats["latency_ms"]["p99"] > 0
        assert stats["predictions"]["psi"] is not None and stats["calibration"]["ratio"] == 1.0
        assert view["monitor"]["fallback_tiers"]["batch"] == {"T0": 30}
        assert view["monitor"]["features"]["default_rate"] == 1.0

        reg = CollectorRegistry()
        register_default_collector(reg)
        register_default_collector(reg)  # idempotent
        text = generate_latest(reg).decode()
        assert 'adgw_model_latency_seconds_bucket{le="+Inf",model="click",version="1"}' in text
        assert 'adgw_model_calls_total{model="click",version="1"}' in text
        assert 'adgw_model_fallback_total{model="batch",tier="T0"}' in text
        assert "adgw_model_psi{" in text and "adgw_model_calibration_ratio{" in text
        assert "adgw_feature_default_rate" in text
    finally:
        await scorer.stop()
