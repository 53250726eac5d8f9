"""The simulator in miniature: the real engine on a fixture-catalog slice, a couple of
simulated hours, small traffic. The full-size run is a bench command, not a test."""

from __future__ import annotations

import orjson
import pytest

from decision.sim import SimConfig, run_ab, run_simulation
from decision.sim.cli import main, parse_setting
from decision.sim.run import _catalog, _traffic
from decision.sim.traffic import RecordedTraffic, write_traffic

SLICE = 40  # programmatic, house and the first 34 standard/sponsorship line items


def small(tmp_path=None, **kw):
    args = dict(hours=2, requests=1_600, seed=7, progress=False, plots=False, line_items=SLICE, budget_scale=0.03)
    args.update(kw)
    return run_simulation(out_dir=tmp_path, **args)


def strip_timing(report):
    report = orjson.loads(orjson.dumps(report, option=orjson.OPT_SERIALIZE_NUMPY))
    report["totals"].pop("decision_latency_ms")
    report["totals"].pop("wall_seconds")
    return report


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim")
    rep = small(out, plots=True)
    return out, rep


def test_report_file_has_the_contract_fields(report):
    out, rep = report
    doc = orjson.loads((out / "report.json").read_bytes())
    assert set(doc["totals"]) >= {"requests", "fill_rate", "revenue_micros", "cap_violations", "separation_violations"}
    assert doc["totals"]["requests"] == 1_600
    assert 0.0 < doc["totals"]["fill_rate"] <= 1.0
    assert doc["totals"]["revenue_micros"] > 0
    items = {i["id"]: i for i in doc["line_items"]}
    assert len(items) == SLICE
    for item in items.values():
        assert set(item) >= {"id", "pacing", "budget_micros", "spent_micros", "delivery_ratio", "max_hourly_deviation"}
    assert items["li-house-1"]["budget_micros"] is None and items["li-house-1"]["delivery_ratio"] is None
    assert items["li-00001"]["budget_micros"] > 0
    assert (out / "spend_curves.png").stat().st_size > 1000
    assert (out / "fill_by_hour.png").stat().st_size > 1000


def test_invariants_in_miniature(report):
    _, rep = report
    totals = rep["totals"]
    assert totals["cap_violations"] == 0
    assert totals["separation_violations_by_scope"]["pod"] == 0
    assert totals["overspent_line_items"] == 0  # no day spends past 105% of its budget
    assert set(totals["fallback_tier_share"]) <= {"T0", "T1", "T2", "T3"}
    assert totals["decision_latency_ms"]["p50"] > 0
    paced = [i for i in rep["line_items"] if i["delivery_ratio"] is not None]
    for item in paced:
        if item["pacing"] != "asap":  # no paced item runs far ahead of its share of the day
            assert item["delivery_ratio"] <= 2.0, item["id"]  # (a few dozen ads each: coarse)

    def median(mode):
        ratios = sorted(i["delivery_ratio"] for i in paced if i["pacing"] == mode)
        return ratios[len(ratios) // 2]

    assert median("even") <= 1.1
    assert median("asap") > 1.5 * median("even")  # asap runs ahead of the curve, even does not


def test_no_stream_separation_violations(report):
    assert report[1]["totals"]["separation_violations"] == 0


def test_same_seed_same_report():
    assert strip_timing(small(requests=500, hours=1)) == strip_timing(small(requests=500, hours=1))


def test_other_seed_other_traffic():
    a, b = small(requests=300, hours=1), small(requests=300, hours=1, seed=8)
    assert a["hourly"]["revenue_micros"] != b["hourly"]["revenue_micros"]


def test_ab_replays_the_same_traffic(tmp_path):
    a = SimConfig(name="A", line_items=SLICE, budget_scale=0.03)
    b = a.with_overrides(name="B", pacing=False)
    rep = run_ab(a, b, hours=1, requests=400, seed=3, out_dir=tmp_path, progress=False, plots=False)
    table = {r["metric"]: r for r in rep["ab"]["metrics"]}
    assert table["requests"]["a"] == table["requests"]["b"] == 400
    assert table["revenue_micros"]["b"] >= table["revenue_micros"]["a"]  # no throttle, no less revenue
    assert (tmp_path / "a" / "report.json").exists() and (tmp_path / "b" / "report.json").exists()
    assert "| revenue_micros |" in (tmp_path / "ab.md").read_text()


def test_recorded_traffic_round_trip(tmp_path):
    cfg = SimConfig(line_items=SLICE, budget_scale=0.03)
    snap = _catalog(None, cfg.budget_scale, cfg.line_items)
    world, _ = _traffic(snap, hours=1, requests=200, seed=5, traffic_file=None, config=cfg, start=None)
    path = tmp_path / "traffic.jsonl"
    assert write_traffic(world, path) == 200
    with path.open("ab") as fh:
        fh.write(b"not json\n")
    rec = RecordedTraffic(path, seed=5, tz_offset_s=snap.tz_offset_s)
    assert rec.total_requests == 200 and rec.skipped == 1
    first_gen = next(world.hours_iter()).requests[0]
    first_rec = next(rec.hours_iter()).requests[0]
    assert (first_rec.sid, first_rec.genre, first_rec.duration_s, first_rec.device_type) == \
        (first_gen.sid, first_gen.genre, first_gen.duration_s, first_gen.device_type)
    rep = run_simulation(hours=1, requests=0, seed=5, traffic_file=path, progress=False, plots=False,
                         line_items=SLICE, budget_scale=0.03)
    assert rep["totals"]["requests"] == 200


def test_cli(tmp_path, capsys):
    code = main(["--hours", "1", "--requests", "200", "--seed", "2", "--out", str(tmp_path), "--line-items",
                 str(SLICE), "--budget-scale", "0.03", "--no-plots", "--quiet"])
    assert code == 0
    assert orjson.loads((tmp_path / "report.json").read_bytes())["totals"]["requests"] == 200
    assert "report:" in capsys.readouterr().out
    assert main(["--set", "nonsense=1", "--requests", "10", "--out", str(tmp_path), "--quiet"]) == 2
    assert main(["--catalog", str(tmp_path / "missing.json"), "--requests", "10", "--out", str(tmp_path)]) == 1


def test_parse_setting():
    assert parse_setting("pacing=off") == ("pacing", False)
    assert parse_setting("refresh-interval-s=5") == ("refresh_interval_s", 5)
    assert parse_setting("frontload=0.3") == ("frontload", 0.3)
    assert parse_setting("auction_mode=second") == ("auction_mode", "second")


def test_the_live_event_is_on_the_pacing_calendar_unless_it_is_a_surprise():
    from decision.forecast import hour_index
    from decision.sim.runner import SimRun

    snap = _catalog(None, 0.03, SLICE)
    for announced in (True, False):
        cfg = SimConfig().with_overrides(spike_hour=1, spike_announced=announced)
        world, response = _traffic(snap, hours=2, requests=200, seed=7, traffic_file=None, config=cfg, start=None)
        run = SimRun(snap, world, cfg, seed=7, response=response, progress=False)
        event_hour = hour_index(world.start + 3600, snap.tz_offset_s)
        if announced:
            assert [(e.start, e.end, e.factor) for e in run.events] == [(world.start + 3600, world.start + 7200, 2.5)]
            assert run.controller.forecast.event_factor(event_hour) == 2.5
        else:
            assert run.events == ()
            assert run.controller.forecast.event_factor(event_hour) == 1.0
    rep = small(requests=300, spike_hour=1, spike_announced=False)
    assert rep["scheduled_events"] == [] and rep["config"]["world"]["spike_announced"] is False
    rep = small(requests=300, spike_hour=1)
    assert [e["factor"] for e in rep["scheduled_events"]] == [2.5]
