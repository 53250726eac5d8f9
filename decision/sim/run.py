"""`run_simulation` and `run_ab`: load the catalog, build the traffic, run, report."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson

from decision.catalog import CatalogSnapshot, load_catalog, parse_catalog
from decision.sim.report import ab_table, build_report, format_ab, write_plots
from decision.sim.runner import SimConfig, SimRun, default_start
from decision.sim.traffic import RecordedTraffic
from decision.sim.world import World, catalog_vocabulary

__all__ = ["run_simulation", "run_ab", "DEFAULT_CATALOG"]

DEFAULT_CATALOG = Path(__file__).resolve().parents[2] / "fixtures" / "catalog.json"


def _catalog(catalog: CatalogSnapshot | str | Path | None, budget_scale: float = 1.0,
             line_items: int | None = None) -> CatalogSnapshot:
    """The snapshot to simulate. `budget_scale` multiplies every budget (to pose the
    same catalog against more or less traffic); `line_items` keeps the first N line
    items (a slice for quick runs)."""
    if isinstance(catalog, CatalogSnapshot) and budget_scale == 1.0 and line_items is None:
        return catalog
    if isinstance(catalog, CatalogSnapshot):
        raise ValueError("budget_scale / line_items need a catalog path, not a snapshot")
    path = Path(catalog or DEFAULT_CATALOG)
    if budget_scale == 1.0 and line_items is None:
        return load_catalog(path)
    doc = orjson.loads(path.read_bytes())
    if line_items is not None:
        doc["line_items"] = doc["line_items"][:line_items]
    for li in doc["line_items"]:
        budget = li.get("budget") or {}
        for key in ("daily_micros", "lifetime_micros"):
            if isinstance(budget.get(key), int):
                budget[key] = int(round(budget[key] * budget_scale))
    return parse_catalog(doc)


def _traffic(snapshot: CatalogSnapshot, *, hours: float, requests: int, seed: int, traffic_file: Any,
             config: SimConfig, start: float | None) -> tuple[Any, Any]:
    """(traffic source, response model)."""
    if traffic_file is not None:
        rec = RecordedTraffic(traffic_file, seed=seed, hours=hours if hours else None, start=start,
                              tz_offset_s=snapshot.tz_offset_s, max_requests=requests or None,
                              max_ads=config.world.max_ads)
        return rec, rec.response_world()
    world = World(start=start if start is not None else default_start(snapshot), hours=hours, requests=requests,
                  seed=seed, tz_offset_s=snapshot.tz_offset_s, config=config.world,
                  vocabulary=catalog_vocabulary(snapshot))
    return world, world


def _write(report: dict[str, Any], out_dir: Path | None, plots: bool) -> None:
    if out_dir is None:
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    if plots:
        report["plots"] = write_plots(report, out_dir)
    (out_dir / "report.json").write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))


def run_simulation(hours: float = 24.0, requests: int = 1_000_000, seed: int = 1, traffic_file: str | Path | None = None,
                   catalog_path: CatalogSnapshot | str | Path | None = None, out_dir: str | Path | None = None,
                   config: SimConfig | None = None, *, start: float | None = None, progress: bool = True,
                   plots: bool = True, **overrides: Any) -> dict[str, Any]:
    """Run one configuration; write `out_dir/report.json` and plots; return the report.
    `overrides` set `SimConfig` / `WorldConfig` fields by name (e.g. `pacing=False`)."""
    config = (config or SimConfig()).with_overrides(**overrides) if overrides else (config or SimConfig())
    snapshot = _catalog(catalog_path, config.budget_scale, config.line_items)
    traffic, response = _traffic(snapshot, hours=hours, requests=requests, seed=seed, traffic_file=traffic_file,
                                 config=config, start=start)
    run = SimRun(snapshot, traffic, config, seed=seed, response=response, progress=progress)
    asyncio.run(run.run())
    report = build_report(run)
    _write(report, Path(out_dir) if out_dir is not None else None, plots)
    return report


def run_ab(a: SimConfig, b: SimConfig, hours: float = 24.0, requests: int = 1_000_000, seed: int = 1,
           traffic_file: str | Path | None = None, catalog_path: CatalogSnapshot | str | Path | None = None,
           out_dir: str | Path | None = None, *, start: float | None = None, progress: bool = True,
           plots: bool = True) -> dict[str, Any]:
    """Replay the same traffic (same seed: same requests and the same response draws
    per ad slot) through two configurations; `out_dir/a/`, `out_dir/b/` hold their
    reports, `out_dir/report.json` is A's report with an `ab` table, `out_dir/ab.md`
    the table as Markdown."""
    out = Path(out_dir) if out_dir is not None else None
    reports = []
    for cfg, sub in ((a, "a"), (b, "b")):
        reports.append(run_simulation(hours, requests, seed, traffic_file, catalog_path,
                                      None if out is None else out / sub, cfg, start=start, progress=progress,
                                      plots=plots))
    table = ab_table(reports[0], reports[1])
    combined = dict(reports[0]) | {"ab": table}
    if out is not None:
        (out / "report.json").write_bytes(orjson.dumps(combined, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
        (out / "ab.md").write_text(format_ab(table))
    return combined
