"""Decision latency, in process, memory store, prior scoring: prints decisions/s and p50/p99.

    .venv/bin/python bench/decide.py                        # 10,000 line items (generated), 4-ad pods
    .venv/bin/python bench/decide.py --catalog fixtures/catalog.json --requests 5000
    .venv/bin/python bench/decide.py --repeat 5 --baseline /tmp/base   # /tmp/base/decision: an older copy

Prints wall-clock and CPU-time (of the deciding thread) percentiles: on a shared machine
the CPU figures leave out other processes' share of the cores. `--repeat` runs the whole
measurement again on a fresh engine and store and reports the best and the median run.
`--baseline DIR` loads a second `decision` package from DIR and interleaves it request by
request with this one (alternating which goes first), so both see the same machine load.
Requests vary device, geo (country/region/DMA), genre and rating; each asks one 60 s break
with at most 4 ads. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
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


def load_package(root: str) -> dict:
    """`load_catalog`, `Engine` and `EngineConfig` of the `decision` package under `root`,
    imported beside (not instead of) this checkout's."""
    ours = {k: v for k, v in sys.modules.items() if k == "decision" or k.startswith("decision.")}
    for k in ours:
        del sys.modules[k]
    sys.path.insert(0, str(root))
    try:
        mods = {m: importlib.import_module(f"decision.{m}") for m in ("catalog", "engine")}
        if not mods["engine"].__file__.startswith(str(Path(root).resolve())):
            raise SystemExit(f"{root}/decision was not imported (got {mods['engine'].__file__})")
    finally:
        sys.path.remove(str(root))
        for k in [k for k in sys.modules if k == "decision" or k.startswith("decision.")]:
            del sys.modules[k]
        sys.modules.update(ours)
    return {"load_catalog": mods["catalog"].load_catalog, "Engine": mods["engine"].Engine,
            "EngineConfig": mods["engine"].EngineConfig}


def pct(xs: list[float]) -> tuple[float, float]:
    q = statistics.quantiles(xs, n=100)
    return q[49] * 1e3, q[98] * 1e3


async def measure(args: argparse.Namespace, variants: dict[str, tuple]) -> dict[str, dict[str, float]]:
    clock_now = [1_780_000_000.0]
    engines = {name: engine_cls(snap, store=MemoryStore(), clock=lambda: clock_now[0], rng=random.Random(1),
                                config=config_cls(max_ads=args.max_ads, max_bids=args.max_bids))
               for name, (snap, engine_cls, config_cls) in variants.items()}
    reqs = requests(args.requests, 5)
    brk = [BreakSpec("b", args.duration)]
    for r in reqs[: min(200, len(reqs))]:  # warm-up
        for e in engines.values():
            await e.decide(r, brk)
    names = list(engines)
    lat: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    busy = {n: 0.0 for n in names}
    ads = {n: 0 for n in names}
    for k, r in enumerate(reqs):
        for name in (names if k % 2 == 0 else names[::-1]):
            t, c = time.perf_counter(), time.thread_time()
            pods = await engines[name].decide(r, brk)
            dt = time.perf_counter() - t
            cpu[name].append(time.thread_time() - c)
            lat[name].append(dt)
            busy[name] += dt
            ads[name] += len(pods[0].ads)
        clock_now[0] += 0.05
    out = {}
    for n in names:
        w50, w99 = pct(lat[n])
        c50, c99 = pct(cpu[n])
        out[n] = {"rate": len(reqs) / busy[n], "wall_p50": w50, "wall_p99": w99, "wall_max": max(lat[n]) * 1e3,
                  "cpu_p50": c50, "cpu_p99": c99, "ads": ads[n] / len(reqs)}
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
    variants = {"current": (snap, Engine, EngineConfig)}
    if args.baseline:
        base = load_package(args.baseline)
        variants["baseline"] = (base["load_catalog"](path), base["Engine"], base["EngineConfig"])
    runs = []
    for i in range(args.repeat):
        res = await measure(args, variants)
        runs.append(res)
        for name, m in res.items():
            print(f"run {i + 1} {name:>8}: {args.requests} decisions, {m['rate']:,.0f} decisions/s (time in decide), "
                  f"wall p50 {m['wall_p50']:.3f} ms p99 {m['wall_p99']:.3f} ms max {m['wall_max']:.3f} ms | "
                  f"cpu p50 {m['cpu_p50']:.3f} ms p99 {m['cpu_p99']:.3f} ms | {m['ads']:.2f} ads/pod")
    if args.repeat > 1:
        for name in variants:
            for metric in ("wall_p50", "wall_p99", "cpu_p50", "cpu_p99", "rate"):
                xs = [r[name][metric] for r in runs]
                best = max(xs) if metric == "rate" else min(xs)
                print(f"{name:>8} {metric:>8}: best {best:,.3f}  median {statistics.median(xs):,.3f}  "
                      f"(of {len(xs)} runs)")


def main() -> None:
    ap = argparse.ArgumentParser(description="decision engine benchmark")
    ap.add_argument("--catalog", help="catalog JSON (default: a generated one)")
    ap.add_argument("--line-items", type=int, default=10_000)
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--max-ads", type=int, default=4)
    ap.add_argument("--max-bids", type=int, default=EngineConfig.max_bids)
    ap.add_argument("--repeat", type=int, default=1, help="measure this many times (fresh engine and store)")
    ap.add_argument("--baseline", help="a directory holding another `decision` package to interleave with")
    asyncio.run(run(ap.parse_args()))


if __name__ == "__main__":
    main()
