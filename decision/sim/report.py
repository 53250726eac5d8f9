"""Report of a simulation run: per line item and totals, ideal curves, plots, A/B tables.

Budget basis: every local day the run touches has a goal per line item, the daily
budget or, when it is smaller, the lifetime budget's share of that day (what is left of
it x the day's expected traffic / the traffic expected until the flight ends; the
controller fixes the same share at the day's first refresh). `budget_basis` names the
binding one. The ideal curve spreads each day's goal over the day's hours in
proportion to the realised requests of each hour inside the flight and dayparts,
times the frontloaded ramp 1 + f .. 1 - f for `frontloaded` items. `asap` items are
compared with the traffic-proportional curve too, for information: their point is to
run ahead of it. `budget_micros` is the ideal spend over the simulated span (the day's
goal for a run of one whole day), so `delivery_ratio` reads the same on runs shorter
than a day.

Supply: a line item that never passed targeting, flight, policy and floors
(`eligible_requests` = 0), or that fell short while bidding on (nearly) every request
it was eligible for (mean participation >= 0.9: outranked, capped), is
`supply_limited` with the reason; the pacing summary leaves it out of the accuracy
figures and counts it separately.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from decision.forecast import HOUR, ScheduledEvent, event_factors
from decision.pacing import DAY, PacingSpec

__all__ = ["build_report", "ab_table", "write_plots", "ideal_curve"]

MIN_IDEAL_SHARE = 0.01  # deviation is not measured before the ideal reaches 1% of the budget
SUPPLY_SATURATED = 0.9  # mean participation at or above which a short line item is supply-limited
BAND = (0.95, 1.05)


def _how(h: int) -> int:
    """Hour of week (Monday 00:00 first) of local hour index `h`."""
    return ((h // 24 + 3) % 7) * 24 + h % 24


class _Expected:
    """The traffic a planner could expect (no noise; scheduled events included, a surprise
    not), per local hour, with sums over long spans from its weekly period."""

    def __init__(self, expected: Any, tz: float, anchor: float, events: Sequence[ScheduledEvent] = ()) -> None:
        h0 = math.floor((anchor + tz) / HOUR)
        self.tz = tz
        self.week = np.zeros(168)
        for h in range(h0, h0 + 168):
            self.week[_how(h)] = float(expected(h * HOUR - tz))
        self.events = event_factors(events, tz)  # hour -> multiplier

    def hour(self, h: int) -> float:
        return float(self.week[_how(h)]) * self.events.get(h, 1.0)

    def total(self, spec: PacingSpec, t0: float, t1: float) -> float:
        if t1 <= t0:
            return 0.0
        lo, hi = math.floor((t0 + self.tz) / HOUR), math.floor((t1 + self.tz) / HOUR)
        week = self.week if spec.mask is None else self.week * np.asarray(spec.mask, dtype=np.float64)
        full, rest = divmod(hi - lo, 168)
        total = full * float(week.sum()) + sum(float(week[_how(h)]) for h in range(lo, lo + rest))
        return total + sum(float(week[_how(h)]) * (f - 1.0) for h, f in self.events.items() if lo <= h < hi)


def ideal_curve(spec: PacingSpec, start: float, hours: int, requests: np.ndarray, expected: Any,
                tz: float, frontload: float, hourly_spend: np.ndarray | None = None,
                events: Sequence[ScheduledEvent] = (),
                ) -> tuple[np.ndarray, str, list[float]] | None:
    """(cumulative ideal spend at the end of each simulated hour, budget basis, goal of
    each local day the run touches); None without a budget.

    Each local day has a goal: the daily budget, or the lifetime budget's share of the
    day (what is left of it at the day's start x the day's expected traffic / the
    traffic expected until the flight ends), whichever is less; `budget_basis` says
    which (`daily`, `lifetime_share`, or `lifetime` on the flight's last day). Expected
    traffic is `expected` (an ordinary day) times the scheduled `events`. Within the
    day the goal is spread over the realised requests of each hour inside the flight
    and dayparts, times the frontloaded ramp 1 + f .. 1 - f for `frontloaded`."""
    if not spec.budgeted:
        return None
    sim_end = start + hours * HOUR
    exp = _Expected(expected, tz, start, events)
    h_start = math.floor((start + tz) / HOUR)
    per_hour = np.zeros(hours)
    bases: list[str] = []
    goals: list[float] = []
    spent = np.zeros(hours) if hourly_spend is None else np.asarray(hourly_spend, dtype=np.float64)
    for d in range(math.floor((start + tz) / DAY), math.floor((sim_end - 1 + tz) / DAY) + 1):
        day_start, day_end = d * DAY - tz, (d + 1) * DAY - tz
        p_start = day_start if spec.start is None else max(day_start, spec.start)
        p_end = day_end if spec.end is None else min(day_end, spec.end)
        if p_end <= p_start:
            continue
        goal, basis = math.inf, "open"
        if spec.daily_goal is not None:
            goal, basis = float(spec.daily_goal), "daily"
        if spec.lifetime_goal is not None:
            before = float(spent[: max(0, int(round((day_start - start) / HOUR)))].sum())
            left = spec.lifetime_goal - before
            if spec.end is None:
                share, life = left, "lifetime"
            else:
                rest = exp.total(spec, p_start, spec.end)
                share = left * exp.total(spec, p_start, p_end) / rest if rest > 0 else left
                life = "lifetime_share" if p_end < spec.end else "lifetime"
            if share < goal:
                goal, basis = share, life
        if math.isinf(goal):
            continue
        weights = {}
        for k in range(24):
            t = day_start + k * HOUR
            mid = t + HOUR / 2
            if not p_start <= mid < p_end or not spec.active(mid, tz):
                continue
            i = d * 24 + k - h_start
            vol = float(requests[i]) if 0 <= i < hours else exp.hour(d * 24 + k)
            ramp = 1.0 + frontload * (1.0 - 2.0 * (k + 0.5) / 24.0) if spec.mode == "frontloaded" else 1.0
            weights[i] = vol * ramp
        total = sum(weights.values())
        if total <= 0:
            continue
        bases.append(basis)
        goals.append(goal)
        for i, w in weights.items():
            if 0 <= i < hours:
                per_hour[i] += goal * w / total
    if not bases:
        return None
    return np.cumsum(per_hour), bases[0], goals


def _deviation(spent_cum: np.ndarray, ideal: np.ndarray) -> float | None:
    if len(ideal) < 2 or ideal[-1] <= 0:
        return None
    worst = 0.0
    for h in range(1, len(ideal)):  # after the first hour: hour ends 2, 3, ...
        if ideal[h] < MIN_IDEAL_SHARE * ideal[-1]:
            continue
        worst = max(worst, abs(spent_cum[h] - ideal[h]) / ideal[h])
    return float(worst)


def build_report(run: Any) -> dict[str, Any]:
    snap = run.snapshot
    traffic = run.traffic
    cfg = run.config
    hours = run.n_hours
    tz = snap.tz_offset_s
    items = []
    requests = run.requests.astype(float)
    eligible = getattr(run, "eligible", None) if run.controller is not None else None
    part_s = getattr(run, "participation_s", None)
    for k, li in enumerate(snap.line_items):
        stats = run.lines[li.id]
        spec = PacingSpec.from_line_item(li)
        spent = float(stats.spend.sum())
        got = ideal_curve(spec, traffic.start, hours, requests, traffic.expected_count, tz, cfg.frontload,
                          stats.spend, getattr(run, "events", ()))
        ideal, basis, goals = got if got is not None else (None, None, [])
        budget = float(ideal[-1]) if ideal is not None else None
        cum = np.cumsum(stats.spend)
        # against the budgets themselves: the most any local day spent of the daily
        # budget, and the total against the lifetime budget
        day_of_hour = np.floor((traffic.start + np.arange(hours) * HOUR + tz) / DAY)
        day_spend = [float(stats.spend[day_of_hour == d].sum()) for d in np.unique(day_of_hour)]
        limit_ratio = max((max(day_spend) / li.daily_budget_micros) if li.daily_budget_micros else 0.0,
                          (spent / li.lifetime_budget_micros) if li.lifetime_budget_micros else 0.0)
        exhausted_hour = None
        if budget:
            hit = np.flatnonzero(cum >= 0.995 * budget)
            exhausted_hour = int(hit[0]) + 1 if len(hit) else None
        ratio = None if not budget else spent / budget
        n_elig = mean_p = None
        limited = None
        if eligible is not None and spec.budgeted:
            row = eligible[k]
            n_elig = int(row.sum())
            active = row > 0
            mean_p = float(part_s[k][active].sum() / (HOUR * active.sum())) if active.any() else None
            if n_elig == 0:
                limited = "no_eligible_requests"
            elif ratio is not None and ratio < BAND[0] and mean_p is not None and mean_p >= SUPPLY_SATURATED:
                limited = "bid_on_all_eligible_requests"
        items.append({
            "id": li.id,
            "tier": li.tier,
            "goal": li.goal,
            "pacing": li.pacing,
            "daily_budget_micros": li.daily_budget_micros,
            "lifetime_budget_micros": li.lifetime_budget_micros,
            "budget_basis": basis,
            "day_goals_micros": [int(round(g)) for g in goals],
            "budget_micros": None if budget is None else int(round(budget)),
            "spent_micros": int(round(spent)),
            "delivery_ratio": ratio,
            "max_hourly_deviation": None if ideal is None else _deviation(cum, ideal),
            "supply_limited": limited,
            "eligible_requests": n_elig,
            "mean_participation": mean_p,
            "impressions": int(stats.impressions.sum()),
            "completions": int(stats.completes.sum()),
            "clicks": int(stats.clicks.sum()),
            "ecpm_micros": (spent / stats.impressions.sum() * 1000) if stats.impressions.sum() else None,
            "exhausted_hour": exhausted_hour,
            "spent_share_at_midday": float(cum[min(hours, 12) - 1] / budget) if budget and hours >= 12 else None,
            "budget_limit_ratio": limit_ratio if spec.budgeted else None,
            "hourly_spend_micros": [int(round(x)) for x in stats.spend],
            "eligible_by_hour": None if eligible is None else [int(x) for x in eligible[k]],
            "ideal_cumulative_micros": None if ideal is None else [int(round(x)) for x in ideal],
        })
    imps = int(run.impressions.sum())
    revenue = float(run.revenue.sum())
    lat = run.latencies * 1000.0
    tiers = sum(run.tiers.values()) or 1
    budgeted = [i for i in items if i["delivery_ratio"] is not None]
    summary = {}
    for mode in ("even", "frontloaded", "asap"):
        every = [i for i in budgeted if i["pacing"] == mode]
        sel = [i for i in every if not i["supply_limited"]]
        if not every:
            continue
        ratios = [i["delivery_ratio"] for i in sel]
        devs = [i["max_hourly_deviation"] for i in sel if i["max_hourly_deviation"] is not None]
        mids = [i["spent_share_at_midday"] for i in sel if i["spent_share_at_midday"] is not None]
        exhausted = [i["exhausted_hour"] for i in sel if i["exhausted_hour"]]
        summary[mode] = {
            "line_items": len(sel),
            "supply_limited": len(every) - len(sel),
            "supply_limited_reasons": dict(sorted(
                {r: sum(1 for i in every if i["supply_limited"] == r)
                 for r in {i["supply_limited"] for i in every if i["supply_limited"]}}.items())),
            "delivery_ratio_min": min(ratios) if ratios else None,
            "delivery_ratio_median": float(np.median(ratios)) if ratios else None,
            "delivery_ratio_max": max(ratios) if ratios else None,
            "in_band_95_105": int(sum(BAND[0] <= r <= BAND[1] for r in ratios)),
            "max_hourly_deviation_median": float(np.median(devs)) if devs else None,
            "max_hourly_deviation_max": float(max(devs)) if devs else None,
            "within_10pct": int(sum(d <= 0.10 for d in devs)),
            "spent_share_at_midday_median": float(np.median(mids)) if mids else None,
            "exhausted_hour_median": float(np.median(exhausted)) if exhausted else None,
        }
    return {
        "config": {k: v for k, v in cfg.__dict__.items() if k != "world"} | {"world": dict(cfg.world.__dict__)},
        "seed": run.seed,
        "catalog_version": snap.version,
        "start": traffic.start,
        "hours": traffic.hours,
        # what the pacing forecast was told in advance; a live event missing here was a surprise
        "scheduled_events": [{"name": e.name, "start": e.start, "end": e.end, "factor": e.factor}
                             for e in getattr(run, "events", ())],
        "totals": {
            "requests": int(run.requests.sum()),
            "fill_rate": float(run.filled_s.sum() / run.break_s.sum()) if run.break_s.sum() else 0.0,
            "revenue_micros": int(round(revenue)),
            "impressions": imps,
            "ecpm_micros": revenue / imps * 1000 if imps else 0.0,
            "cap_violations": run.cap_violations,
            "separation_violations": run.separation_violations,
            "separation_violations_by_scope": {"pod": run.separation_by_scope["pod"],
                                               "stream": run.separation_by_scope["stream"]},
            "overspent_line_items": sum(1 for i in items if (i["budget_limit_ratio"] or 0.0) > 1.05),
            "fallback_tier_share": {k: v / tiers for k, v in sorted(run.tiers.items())},
            "ad_tier_share": {k: v / max(1, sum(run.ad_tiers.values())) for k, v in sorted(run.ad_tiers.items())},
            "decision_latency_ms": {
                "mean": float(lat.mean()) if len(lat) else 0.0,
                "p50": float(np.percentile(lat, 50)) if len(lat) else 0.0,
                "p95": float(np.percentile(lat, 95)) if len(lat) else 0.0,
                "p99": float(np.percentile(lat, 99)) if len(lat) else 0.0,
                "max": float(lat.max()) if len(lat) else 0.0,
            },
            "wall_seconds": run.wall_s,
        },
        "pacing_summary": summary,
        "hourly": {
            "requests": [int(x) for x in run.requests],
            "fill_rate": [float(f / b) if b else 0.0 for f, b in zip(run.filled_s, run.break_s, strict=True)],
            "revenue_micros": [int(round(x)) for x in run.revenue],
        },
        "violation_examples": run.violation_examples,
        "line_items": items,
    }


def write_plots(report: dict[str, Any], out_dir: Path, *, max_items: int = 24, dpi: int = 80) -> list[str]:
    """spend_curves.png (cumulative spend against the ideal, per line item, the
    largest budgets of each pacing mode among those with supply), fill_by_hour.png.
    Returns the file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    items = [i for i in report["line_items"] if i["ideal_cumulative_micros"] and not i.get("supply_limited")]
    chosen: list[dict[str, Any]] = []
    for mode in ("even", "frontloaded", "asap"):
        sel = sorted((i for i in items if i["pacing"] == mode), key=lambda i: -(i["budget_micros"] or 0))
        chosen += sel[: max_items // 3]
    if chosen:
        cols = 4
        rows = math.ceil(len(chosen) / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.6 * rows), squeeze=False)
        for ax, item in zip(axes.flat, chosen, strict=False):
            spent = np.cumsum(item["hourly_spend_micros"]) / 1e6
            ideal = np.array(item["ideal_cumulative_micros"]) / 1e6
            x = np.arange(1, len(spent) + 1)
            ax.plot(x, ideal, "k--", lw=1, label="ideal")
            ax.fill_between(x, ideal * 0.9, ideal * 1.1, color="0.85", lw=0)
            ax.plot(x, spent, lw=1.5, label="spent")
            ratio = item["delivery_ratio"]
            ax.set_title(f"{item['id']} {item['pacing']} {ratio:.0%}" if ratio else item["id"], fontsize=8)
            ax.tick_params(labelsize=7)
        for ax in list(axes.flat)[len(chosen):]:
            ax.axis("off")
        axes.flat[0].legend(fontsize=7)
        fig.supxlabel("simulated hour")
        fig.supylabel("cumulative spend (currency units)")
        fig.tight_layout()
        fig.savefig(out_dir / "spend_curves.png", dpi=dpi)
        plt.close(fig)
        written.append("spend_curves.png")
    hourly = report["hourly"]
    fig, ax1 = plt.subplots(figsize=(8, 3.5))
    x = np.arange(1, len(hourly["fill_rate"]) + 1)
    ax1.bar(x, hourly["requests"], color="0.8", label="requests")
    ax1.set_ylabel("requests per hour")
    ax2 = ax1.twinx()
    ax2.plot(x, hourly["fill_rate"], "o-", color="tab:blue", label="fill rate")
    ax2.set_ylim(0, 1.05)
    ax2.set_ylabel("fill rate (pod s / break s)")
    ax1.set_xlabel("simulated hour")
    fig.tight_layout()
    fig.savefig(out_dir / "fill_by_hour.png", dpi=dpi)
    plt.close(fig)
    written.append("fill_by_hour.png")
    return written


def _metric(report: dict[str, Any], path: Sequence[str]) -> Any:
    value: Any = report
    for p in path:
        value = value.get(p) if isinstance(value, dict) else None
    return value


AB_METRICS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("requests", ("totals", "requests")),
    ("fill_rate", ("totals", "fill_rate")),
    ("revenue_micros", ("totals", "revenue_micros")),
    ("impressions", ("totals", "impressions")),
    ("ecpm_micros", ("totals", "ecpm_micros")),
    ("cap_violations", ("totals", "cap_violations")),
    ("separation_violations", ("totals", "separation_violations")),
    ("overspent_line_items", ("totals", "overspent_line_items")),
    ("latency_p50_ms", ("totals", "decision_latency_ms", "p50")),
    ("latency_p99_ms", ("totals", "decision_latency_ms", "p99")),
    ("even_in_band", ("pacing_summary", "even", "in_band_95_105")),
    ("even_deviation_median", ("pacing_summary", "even", "max_hourly_deviation_median")),
    ("frontloaded_in_band", ("pacing_summary", "frontloaded", "in_band_95_105")),
    ("asap_exhausted_hour_median", ("pacing_summary", "asap", "exhausted_hour_median")),
)


def ab_table(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Side-by-side metrics with absolute and relative differences (B - A)."""
    rows = []
    for name, path in AB_METRICS:
        va, vb = _metric(a, path), _metric(b, path)
        diff = rel = None
        if isinstance(va, int | float) and isinstance(vb, int | float):
            diff = vb - va
            rel = diff / va if va else None
        rows.append({"metric": name, "a": va, "b": vb, "diff": diff, "rel": rel})
    per_item = []
    bi = {i["id"]: i for i in b["line_items"]}
    for ia in a["line_items"]:
        ib = bi.get(ia["id"])
        if ib is None or ia["delivery_ratio"] is None:
            continue
        per_item.append({"id": ia["id"], "pacing": ia["pacing"], "delivery_a": ia["delivery_ratio"],
                         "delivery_b": ib["delivery_ratio"], "deviation_a": ia["max_hourly_deviation"],
                         "deviation_b": ib["max_hourly_deviation"]})
    return {"a": a["config"]["name"], "b": b["config"]["name"], "metrics": rows, "line_items": per_item}


def format_ab(table: dict[str, Any]) -> str:
    def fmt(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:,.4g}"
        return f"{v:,}" if isinstance(v, int) else str(v)

    lines = [f"| metric | {table['a']} | {table['b']} | diff | rel |", "| --- | ---: | ---: | ---: | ---: |"]
    for r in table["metrics"]:
        rel = "-" if r["rel"] is None else f"{r['rel']:+.2%}"
        lines.append(f"| {r['metric']} | {fmt(r['a'])} | {fmt(r['b'])} | {fmt(r['diff'])} | {rel} |")
    return "\n".join(lines) + "\n"
