"""Features: hydration from a real Redis in one pipelined round trip with a hard
deadline, defaults flagged; online and offline encoding are the same code; the ad-side
adapter reads the real catalog."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
import pytest

from decision.catalog import load_catalog
from decision.models import features as F
from decision.models import synthetic
from store import MemoryStore, RedisStore
from tests.models.support import (
    SHIPPED,
    candidates,
    registry_with_shipped,
    request,
    settings,
    started,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def redis_store(redis_url):
    store = RedisStore(redis_url)
    yield store
    await store.close()


class CountingStore:
    """Counts round trips and can stall them (a slow or partitioned Redis)."""

    def __init__(self, inner, delay_s: float = 0.0, fail: bool = False) -> None:
        self.inner = inner
        self.delay_s = delay_s
        self.fail = fail
        self.calls: list[list[str]] = []

    async def hgetall_many(self, keys):
        self.calls.append(list(keys))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.fail:
            from store import StoreUnavailable

            raise StoreUnavailable("connection refused")
        return await self.inner.hgetall_many(keys)


async def _seed(store, req, suffix: str) -> None:
    await store.hset(f"feat:user:{req.ifa}", F.entity_hash("user", {"completion_rate": 0.91, "ctr": 0.05, "impressions_7d": 12}))
    await store.hset(f"feat:household:{F.household_of(req.ip)}", F.entity_hash("household", {"size": 4, "tv_hours_7d": 30}))
    await store.hset(f"feat:device:{req.sid}", {"completion_rate": "0.66", "sessions_7d": "7", "unrelated": "x"})
    await store.hset(f"feat:content:{req.cid}", {"completion_rate": "0.8", "popularity": "not-a-number"})


async def test_hydration_from_real_redis_in_one_round_trip(redis_store):
    req = request("sess-redis-1", ifa="ifa-redis-1", cid="show-redis-1", ip="198.51.100.23")
    await _seed(redis_store, req, "1")
    counting = CountingStore(redis_store)
    hydrated = await F.FeatureHydrator(counting, timeout_s=0.5).hydrate(req)
    assert len(counting.calls) == 1  # one pipelined hgetall_many
    assert sorted(counting.calls[0]) == sorted([
        "feat:user:ifa-redis-1", "feat:household:198.51.100.0/24", "feat:device:sess-redis-1", "feat:content:show-redis-1"])
    v = hydrated.values
    assert (v["user_completion_rate"], v["user_ctr"], v["user_impressions_7d"], v["user_known"]) == (0.91, 0.05, 12.0, 1.0)
    assert (v["hh_size"], v["hh_tv_hours_7d"]) == (4.0, 30.0)
    assert (v["device_completion_rate"], v["device_sessions_7d"]) == (0.66, 7.0)
    assert v["content_completion_rate"] == 0.8
    assert v["content_popularity"] == F.ENTITY_DEFAULTS["content_popularity"]  # unparsable: default
    assert hydrated.defaulted == 1 and hydrated.total == 9 and not hydrated.timed_out


async def test_missing_entities_and_privacy_use_defaults(redis_store):
    req = request("sess-redis-2", ifa="ifa-redis-2", cid=None)
    await redis_store.hset(f"feat:user:{req.ifa}", {"completion_rate": "0.5"})
    hydrated = await F.FeatureHydrator(redis_store, timeout_s=0.5).hydrate(req)
    assert hydrated.values["user_completion_rate"] == 0.5 and hydrated.values["user_known"] == 1.0
    assert hydrated.defaulted == hydrated.total - 1
    # limit ad tracking: user and household hashes are not even read
    counting = CountingStore(redis_store)
    lmt = request("sess-redis-2", ifa="ifa-redis-2", lmt=True)
    hydrated = await F.FeatureHydrator(counting, timeout_s=0.5).hydrate(lmt)
    assert all(not k.startswith(("feat:user:", "feat:household:")) for k in counting.calls[0])
    assert hydrated.values["user_completion_rate"] == F.ENTITY_DEFAULTS["user_completion_rate"]
    assert hydrated.values["user_known"] == 0.0


async def test_deadline_passing_means_defaults_flagged_and_on_time(redis_store):
    req = request("sess-redis-3", ifa="ifa-redis-3", cid="show-redis-3")
    await _seed(redis_store, req, "3")
    slow = CountingStore(redis_store, delay_s=0.5)
    t0 = time.monotonic()
    hydrated = await F.FeatureHydrator(slow, timeout_s=0.02).hydrate(req)
    assert time.monotonic() - t0 < 0.1
    assert hydrated.timed_out and hydrated.defaulted == hydrated.total
    assert hydrated.values == {**F.ENTITY_DEFAULTS, "user_known": 0.0}
    failing = await F.FeatureHydrator(CountingStore(redis_store, fail=True), timeout_s=0.5).hydrate(req)
    assert failing.error and failing.error.startswith("StoreUnavailable") and failing.defaulted == failing.total


async def test_scorer_hydrates_from_real_redis_and_reports_default_rate(redis_store, tmp_path):
    registry = registry_with_shipped(tmp_path / "r")
    req = request("sess-redis-4", ifa="ifa-redis-4", cid="show-redis-4")
    await _seed(redis_store, req, "4")
    scorer = await started(registry, store=redis_store)
    try:
        batch = await scorer.score(req, candidates(200))
        assert batch.tier == "T0" and batch.meta["features"] == {"defaulted": 1, "total": 9, "timed_out": False}
        cold = await scorer.score(request("sess-redis-unknown", ifa="nobody", cid="nothing", ip="192.0.2.1"), candidates(200))
        assert cold.meta["features"]["defaulted"] == 9
        assert scorer.describe()["monitor"]["features"]["default_rate"] == pytest.approx(10 / 18, abs=1e-4)
        assert batch.p_complete != cold.p_complete
    finally:
        await scorer.stop()
    # a stalled store: the request is answered on time with defaults, flagged
    slow = CountingStore(redis_store, delay_s=0.5)
    scorer = await started(registry, store=slow, settings=settings(hydration_timeout_s=0.01))
    try:
        t0 = time.monotonic()
        batch = await scorer.score(req, candidates(200), deadline=t0 + 0.2)
        assert time.monotonic() - t0 < 0.2
        assert batch.tier == "T0" and batch.meta["features"]["timed_out"] is True
        assert scorer.describe()["monitor"]["features"]["hydration_timeouts"] == 1
    finally:
        await scorer.stop()


def test_online_and_offline_encoding_are_the_same_code():
    """A synthetic impression re-encoded through the online path gives the same row."""
    imp = synthetic.impressions(50, seed=3)
    for i in range(50):
        raw = {k: v[i] for k, v in imp.raw.items()}
        req_raw = {f.source: raw[f.source] for f in F.REQUEST_FEATURES}
        ad = {f.source: raw[f.source] for f in F.AD_FEATURES}
        row = F.assemble(F.encode(req_raw, F.REQUEST_FEATURES, 1)[0], F.encode(ad, F.AD_FEATURES, 1))
        np.testing.assert_array_equal(row[0], imp.x[i])


def test_request_raw_matches_the_synthetic_vocabulary():
    req = request("s", genre="Sports", device_type="mobile", position="pre", live=True, duration_s=90.0)
    evening = 1_780_000_000.0 - (1_780_000_000.0 % 86400) + 20 * 3600
    raw = F.request_raw(req, evening)
    assert (raw["genre"], raw["device_type"], raw["daypart"], raw["position"], raw["live"], raw["break_s"]) == (
        "sports", "mobile", "primetime", "pre", 1.0, 90.0)
    assert F.request_raw(request("s", genre="telenovela"), evening)["genre"] == "other"
    x = F.encode(raw, F.REQUEST_FEATURES, 1)[0]
    names = [f.name for f in F.REQUEST_FEATURES]
    assert x[names.index("device_type=mobile")] == 1 and x[names.index("daypart=primetime")] == 1
    assert x[names.index("break_min")] == pytest.approx(1.5)


def test_ad_features_from_the_real_catalog():
    snap = load_catalog(ROOT / "fixtures" / "catalog.json")
    cache = F.AdFeatureCache()
    cache.precompute(snap.candidates)
    assert len(cache) == len(snap.candidates)
    m = cache.matrix(snap.candidates[:50])
    assert m.shape == (50, len(F.AD_FEATURES)) and m.dtype == np.float32
    for cand, row in zip(snap.candidates[:50], m, strict=True):
        raw = F.ad_raw(cand.line_item, cand.creative, cand.advertiser)
        np.testing.assert_array_equal(row, F.encode(raw, F.AD_FEATURES, 1)[0])
        assert raw["tier"] == cand.line_item.tier
        assert raw["goal"] == {"CPM": "impressions", "CPCV": "completion"}[cand.line_item.goal]
    cats = {F.ad_raw(c.line_item, c.creative, c.advertiser)["ad_category"] for c in snap.candidates}
    assert len(cats - {"other"}) >= 6


async def test_scoring_the_real_catalog(tmp_path):
    snap = load_catalog(ROOT / "fixtures" / "catalog.json")
    scorer = await started(SHIPPED, store=MemoryStore())
    try:
        scorer.precompute_ads(snap.candidates)
        batch = await scorer.score(request(), snap.candidates[:200])
        assert batch.tier == "T0" and len(batch.p_complete) == 200
        assert len(set(np.round(batch.p_click, 6))) > 20
    finally:
        await scorer.stop()
