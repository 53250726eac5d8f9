"""Decision latency, in process, memory store, prior scoring: prints decisions/s and p50/p99.

    .venv/bin/python bench/decide.py                        # 10,000 line items (generated), 4-ad pods
    .venv/bin/python bench/decide.py --catalog fixtures/catalog.json --requests 5000

Also prints CPU-time percentiles (noisy shared machines). Requests vary device, geo (country/region/DMA), genre and rating; each asks one 60 s
break with at most 4 ads. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from decision.catalog import load_catalog  # noqa: E402
from decision.engine import Engine, EngineConfig  # noqa: E402
from decision.pod import BreakSpec  # noqa: E402
from decision.request import AdRequest  # noqa: E402
from fixtures.make_catalog import GENRES, REGIONS, make  # noqa: E402
from store import MemoryStore  # noqa: E402


def requests(n: int, seed: int) -> list[AdRequest]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        out.append(AdRequest(
            sid=f"s{rng.randrange(n // 4 + 1)}", ifa=f"ifa-{rng.randrange(n // 2 + 1)}",
            device_type=rng.choice(["ctv", "ctv", "ctv", "mobile"]), country=rng.choice(["US"] * 9 + ["CA"]),
            region=rng.choice(REGIONS), dma=str(500 + rng.randrange(210)), genre=rng.choice(GENRES),
            rating=rng.choice(["TV-G", "TV-PG", "TV-14", "TV-14", "TV-MA"]), live=rng.random() < 0.2,
            channel=rng.choice(["demo-news", "demo-sports", "demo-movies"]), segments=("sports-fan",) if i % 3 else (),
        ))
    return out


async def run(args: argparse.Namespace) -> None:
    if args.catalog:
        path = Path(args.catalog)
    else:
        path = Path(tempfile.gettempdir()) / f"adgw-bench-catalog-{args.line_items}.json"
        if not path.exists():
            import json
            path.write_text(json.dumps(make(args.line_items, 11)))
    t0 = time.perf_counter()
    snap = load_catalog(path)
    print(f"catalog {path.name}: {len(snap.line_items)} line items, {len(snap.candidates)} candidates, "
          f"loaded in {time.perf_counter() - t0:.2f}s")
    clock_now = 1_780_000_000.0
    engine = Engine(snap, store=MemoryStore(), clock=lambda: clock_now, rng=random.Random(1),
                    config=EngineConfig(max_ads=args.max_ads, max_bids=args.max_bids))
    reqs = requests(args.requests, 5)
    brk = [BreakSpec("b", args.duration)]
    for r in reqs[: min(200, len(reqs))]:  # warm-up
        await engine.decide(r, brk)
    lat, cpu = [], []
    ads = 0
    t_all = time.perf_counter()
    for r in reqs:
        t, c = time.perf_counter(), time.thread_time()
        pods = await engine.decide(r, brk)
        lat.append(time.perf_counter() - t)
        cpu.append(time.thread_time() - c)
        ads += len(pods[0].ads)
        clock_now += 0.05
    total = time.perf_counter() - t_all
    lat.sort()
    q = statistics.quantiles(lat, n=100)
    qc = statistics.quantiles(cpu, n=100)
    print(f"{len(reqs)} decisions in {total:.2f}s: {len(reqs) / total:,.0f} decisions/s, "
          f"p50 {q[49] * 1e3:.3f} ms, p99 {q[98] * 1e3:.3f} ms, max {lat[-1] * 1e3:.3f} ms, "
          f"{ads / len(reqs):.2f} ads/pod")
    # CPU time of the deciding thread: the same figures without other processes' share of the cores
    print(f"cpu time per decision: p50 {qc[49] * 1e3:.3f} ms, p99 {qc[98] * 1e3:.3f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description="decision engine benchmark")
    ap.add_argument("--catalog", help="catalog JSON (default: a generated one)")
    ap.add_argument("--line-items", type=int, default=10_000)
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--max-ads", type=int, default=4)
    ap.add_argument("--max-bids", type=int, default=EngineConfig.max_bids)
    asyncio.run(run(ap.parse_args()))


if __name__ == "__main__":
    main()
