"""Scoring latency: 200 candidates, the three shipped models, feature hydration from a
real Redis (one pipelined round trip). Prints p50/p99 of `ModelScorer.score` end to end
and of its parts; asserts nothing. Target: p99 <= 5 ms.

    .venv/bin/python bench/scoring.py [--redis [URL]] [--requests 2000] [--candidates 200] [--concurrency 1]

Without `--redis` it starts a private redis-server on a free port; `--redis` alone uses
127.0.0.1:6379.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from decision.catalog import load_catalog  # noqa: E402
from decision.models import features as F  # noqa: E402
from decision.models.serving import ModelScorer, ServingSettings  # noqa: E402
from decision.request import AdRequest  # noqa: E402
from store import RedisStore  # noqa: E402

GENRES = ("drama", "comedy", "news", "sports", "kids", "movies")


def requests(n: int, rng: random.Random) -> list[AdRequest]:
    return [AdRequest(sid=f"bench-dev-{rng.randrange(5000)}", genre=rng.choice(GENRES), device_type=rng.choice(("ctv", "ctv", "mobile")),
                      ifa=f"bench-ifa-{rng.randrange(5000)}", ip=f"10.{rng.randrange(256)}.{rng.randrange(256)}.9",
                      cid=f"bench-show-{rng.randrange(500)}", position=rng.choice(("pre", "mid", "post")))
            for _ in range(n)]


async def seed_features(store: RedisStore, reqs: list[AdRequest], rng: random.Random) -> None:
    client = store.client
    pipe = client.pipeline(transaction=False)
    for r in reqs:
        pipe.hset(f"feat:user:{r.ifa}", mapping={"completion_rate": rng.random(), "ctr": rng.random() / 20, "impressions_7d": rng.randrange(50)})
        pipe.hset(f"feat:household:{F.household_of(r.ip)}", mapping={"size": rng.randrange(1, 6), "tv_hours_7d": rng.random() * 40})
        pipe.hset(f"feat:device:{r.sid}", mapping={"completion_rate": rng.random(), "sessions_7d": rng.randrange(30)})
        pipe.hset(f"feat:content:{r.cid}", mapping={"completion_rate": rng.random(), "popularity": rng.random()})
    await pipe.execute()


def pct(values: list[float]) -> str:
    a = np.asarray(values) * 1000
    return f"p50 {np.percentile(a, 50):6.3f} ms  p99 {np.percentile(a, 99):6.3f} ms  max {a.max():6.3f} ms"


async def run(url: str, n: int, n_cands: int, concurrency: int) -> None:
    rng = random.Random(1)
    snap = load_catalog(ROOT / "fixtures" / "catalog.json")
    cands = list(snap.candidates[:n_cands])
    while len(cands) < n_cands:
        cands.extend(snap.candidates[: n_cands - len(cands)])
    store = RedisStore(url)
    reqs = requests(n, rng)
    await seed_features(store, reqs, rng)
    scorer = ModelScorer(ROOT / "fixtures" / "models", store=store,
                         settings=ServingSettings(poll_interval_s=None, shadow_sample=0.0))
    await scorer.start()
    scorer.precompute_ads(snap.candidates)
    try:
        for r in reqs[:200]:  # warm-up
            await scorer.score(r, cands, deadline=time.monotonic() + 0.05)
        hyd: list[float] = []
        for r in reqs[:500]:
            t0 = time.perf_counter()
            await scorer.hydrator.hydrate(r)
            hyd.append(time.perf_counter() - t0)
        totals: list[float] = []
        tiers: dict[str, int] = {}

        async def one(r: AdRequest) -> None:
            t0 = time.perf_counter()
            batch = await scorer.score(r, cands, deadline=time.monotonic() + 0.05)
            totals.append(time.perf_counter() - t0)
            tiers[batch.tier] = tiers.get(batch.tier, 0) + 1

        t_start = time.perf_counter()
        if concurrency <= 1:
            for r in reqs:
                await one(r)
        else:
            sem = asyncio.Semaphore(concurrency)

            async def bounded(r: AdRequest) -> None:
                async with sem:
                    await one(r)

            await asyncio.gather(*(bounded(r) for r in reqs))
        wall = time.perf_counter() - t_start
        view = scorer.describe()
        print(f"scoring {n_cands} candidates x 3 models (completion LR, click GBM, viewable LR), "
              f"{n} requests, concurrency {concurrency}, redis {url}")
        print(f"  score() end to end : {pct(totals)}   ({n / wall:,.0f} req/s, tiers {tiers})")
        print(f"  hydration (1 RTT)  : {pct(hyd)}")
        for name, model in view["models"].items():
            lat = model["active"]["stats"]["latency_ms"]
            print(f"  {name:<10} run     : p50 {lat['p50']:6.3f} ms  p99 {lat['p99']:6.3f} ms (recent window, in thread)")
        print(f"  feature default rate {view['monitor']['features']['default_rate']:.3f}, "
              f"hydration timeouts {view['monitor']['features']['hydration_timeouts']}")
    finally:
        await scorer.stop()
        await store.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--redis", nargs="?", const="redis://127.0.0.1:6379/0", default=None)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--candidates", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=1)
    args = ap.parse_args(argv)
    svc = None
    url = args.redis
    if url is None:
        from tests.support.services import start_redis

        svc = start_redis()
        url = f"redis://127.0.0.1:{svc.port}/0"
    try:
        asyncio.run(run(url, args.requests, args.candidates, args.concurrency))
    finally:
        if svc is not None:
            svc.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
