"""`adgw simulate`: replay synthetic or recorded ad requests through the decision engine.

    adgw simulate [--hours H] [--requests N] [--seed S] [--traffic FILE] [--catalog FILE]
                  [--out DIR] [--budget-scale X] [--line-items N] [--set KEY=VALUE ...]
                  [--ab KEY=VALUE ...] [--no-plots] [--quiet]

`--set` changes a simulation setting (`SimConfig` / `WorldConfig` field, e.g.
`refresh_interval_s=5`, `spike_factor=4`); `--ab` runs an A/B comparison where B is A
with the given changes (e.g. `--ab pacing=false`, `--ab auction_mode=second`) on the
same traffic. Exit status: 0 done, 1 the catalog or traffic file is unusable, 2 usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from decision.errors import CatalogInvalid
from decision.sim.report import format_ab
from decision.sim.run import run_ab, run_simulation
from decision.sim.runner import SimConfig

__all__ = ["main", "parse_setting"]


def parse_setting(text: str) -> tuple[str, Any]:
    """`key=value` with the value read as a bool, None, int, float or else a string."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, raw = text.split("=", 1)
    low = raw.strip().lower()
    value: Any
    if low in ("true", "on", "yes"):
        value = True
    elif low in ("false", "off", "no"):
        value = False
    elif low in ("none", "null"):
        value = None
    else:
        try:
            value = int(raw)
        except ValueError:
            try:
                value = float(raw)
            except ValueError:
                value = raw
    return key.strip().replace("-", "_"), value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="adgw simulate", description=__doc__.split("\n\n")[0])
    p.add_argument("--hours", type=float, default=24.0, help="simulated hours (default 24)")
    p.add_argument("--requests", type=int, default=1_000_000, help="ad requests over the run (default 1,000,000)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--traffic", help="recorded ad requests (JSONL) instead of the generator")
    p.add_argument("--catalog", help="catalog snapshot (default fixtures/catalog.json)")
    p.add_argument("--out", default="sim-out", help="output directory (report.json, plots)")
    p.add_argument("--budget-scale", type=float, default=None, help="multiply every catalog budget")
    p.add_argument("--line-items", type=int, default=None, help="simulate only the first N line items")
    p.add_argument("--set", dest="settings", action="append", type=parse_setting, default=[], metavar="KEY=VALUE")
    p.add_argument("--ab", action="append", type=parse_setting, default=[], metavar="KEY=VALUE",
                   help="compare with a B configuration: A plus these changes")
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _summary(report: dict[str, Any]) -> str:
    t = report["totals"]
    lines = [
        f"requests {t['requests']:,}  fill {t['fill_rate']:.1%}  revenue {t['revenue_micros'] / 1e6:,.2f}  "
        f"eCPM {t['ecpm_micros'] / 1e6:.2f}  cap violations {t['cap_violations']}  "
        f"separation violations {t['separation_violations']}  wall {t['wall_seconds']:.0f}s",
    ]
    events = report.get("scheduled_events") or []
    world = (report.get("config") or {}).get("world") or {}
    if events:
        lines.append("  scheduled events on the pacing calendar: " + ", ".join(
            f"{e['name'] or 'event'} x{e['factor']:g} for {(e['end'] - e['start']) / 3600:g} h" for e in events))
    elif world.get("spike_hour") is not None:
        lines.append(f"  live event at hour {world['spike_hour']:g} x{world['spike_factor']:g}: unannounced "
                     "(not on the pacing calendar)")

    def pct(v: float | None) -> str:
        return "-" if v is None else f"{v:.1%}"

    for mode, s in report.get("pacing_summary", {}).items():
        lines.append(f"  {mode:<11} {s['line_items']:>3} line items with supply (+{s['supply_limited']} supply-limited): "
                     f"delivery median {pct(s['delivery_ratio_median'])} (min {pct(s['delivery_ratio_min'])}, "
                     f"max {pct(s['delivery_ratio_max'])}), in 95-105% {s['in_band_95_105']}, hourly deviation "
                     f"median {pct(s['max_hourly_deviation_median'])}, within 10% {s['within_10pct']}, "
                     f"spent by midday {pct(s['spent_share_at_midday_median'])}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = dict(args.settings)
    if args.budget_scale is not None:
        settings["budget_scale"] = args.budget_scale
    if args.line_items is not None:
        settings["line_items"] = args.line_items
    try:
        base = SimConfig().with_overrides(**settings)
        b = base.with_overrides(name="B", **dict(args.ab)) if args.ab else None
    except (TypeError, ValueError) as exc:
        print(f"adgw simulate: {exc}", file=sys.stderr)
        return 2
    common = dict(hours=args.hours, requests=args.requests, seed=args.seed, traffic_file=args.traffic,
                  catalog_path=args.catalog, out_dir=args.out)
    try:
        if b is not None:
            report = run_ab(base, b, **common, progress=not args.quiet, plots=not args.no_plots)
        else:
            report = run_simulation(**common, config=base, progress=not args.quiet, plots=not args.no_plots)
    except CatalogInvalid as exc:
        print(f"adgw simulate: catalog invalid: {'; '.join(exc.problems[:10])}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"adgw simulate: {exc}", file=sys.stderr)
        return 1
    print(_summary(report))
    if "ab" in report:
        print(format_ab(report["ab"]))
    print(f"report: {args.out}/report.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
