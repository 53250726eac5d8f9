"""Pacing through the whole simulator, in miniature: a synthetic catalog of six line
items (two per pacing mode, distinct advertisers and categories so they share pods),
a day of traffic with no unannounced event, the real engine and controller. The
acceptance criteria of the full-size run (docs/simulation.md) hold here too."""

from __future__ import annotations

import copy

import orjson
import pytest

from decision.sim import run_simulation
from decision.sim.run import DEFAULT_CATALOG

REQUESTS = 30_000
MODES = ("even", "even", "frontloaded", "frontloaded", "asap", "asap")
RATES = (30_000_000, 26_000_000, 28_000_000, 24_000_000, 32_000_000, 22_000_000)
DAILY = (90_000_000, 60_000_000, 80_000_000, 60_000_000, 40_000_000, 30_000_000)


def synthetic_catalog(path) -> None:
    """Six broad CPM line items of the fixture's advertisers, one per IAB category."""
    doc = orjson.loads(DEFAULT_CATALOG.read_bytes())
    advertisers, seen = [], set()
    short = {c["advertiser_id"] for c in doc["creatives"] if c["duration_s"] == 15}
    for adv in doc["advertisers"]:
        if adv["iab_category"] not in seen and adv["id"] in short:
            seen.add(adv["iab_category"])
            advertisers.append(adv)
    advertisers = advertisers[: len(MODES)]
    creatives = []
    line_items = []
    for k, adv in enumerate(advertisers):
        cr = copy.deepcopy(next(c for c in doc["creatives"] if c["advertiser_id"] == adv["id"]
                                and c["duration_s"] == 15))
        creatives.append(cr)
        campaign = next(c for c in doc["campaigns"] if c["advertiser_id"] == adv["id"])
        line_items.append({
            "id": f"li-{MODES[k]}-{k}", "campaign_id": campaign["id"], "name": f"{MODES[k]} {k}",
            "tier": "standard", "flight": {"start": "2026-01-01T00:00:00Z", "end": "2026-12-31T23:59:59Z"},
            "budget": {"daily_micros": DAILY[k], "lifetime_micros": DAILY[k] * 1000},
            "goal": "CPM", "rate_micros": RATES[k], "pacing": MODES[k], "caps": [], "targeting": None,
            "creative_ids": [cr["id"]], "priors": {"completion": 0.9, "ctr": 0.004},
        })
    doc["advertisers"] = advertisers
    doc["campaigns"] = [c for c in doc["campaigns"] if c["id"] in {li["campaign_id"] for li in line_items}]
    doc["creatives"] = creatives
    doc["line_items"] = line_items
    path.write_bytes(orjson.dumps(doc))


@pytest.fixture(scope="module")
def day(tmp_path_factory):
    path = tmp_path_factory.mktemp("pacing") / "catalog.json"
    synthetic_catalog(path)
    report = run_simulation(hours=24, requests=REQUESTS, seed=3, catalog_path=path, progress=False, plots=False,
                            spike_hour=None)
    return {i["id"]: i for i in report["line_items"]}, report


def test_the_synthetic_day_has_supply_for_every_line_item(day):
    items, _ = day
    assert len(items) == len(MODES)
    for item in items.values():
        assert item["supply_limited"] is None, item["id"]
        assert item["eligible_requests"] > REQUESTS // 2
        assert item["budget_basis"] == "daily"


def test_even_tracks_the_ideal_curve_and_lands_in_band(day):
    items, _ = day
    for item in items.values():
        if item["pacing"] == "even":
            assert 0.95 <= item["delivery_ratio"] <= 1.05, item["id"]
            assert item["max_hourly_deviation"] <= 0.10, item["id"]


def test_frontloaded_leads_by_midday_and_lands_in_band(day):
    items, report = day
    front = [i for i in items.values() if i["pacing"] == "frontloaded"]
    for item in front:
        assert 0.95 <= item["delivery_ratio"] <= 1.05, item["id"]
    lead = report["pacing_summary"]["frontloaded"]["spent_share_at_midday_median"] \
        - report["pacing_summary"]["even"]["spent_share_at_midday_median"]
    assert lead >= 0.10


def test_asap_exhausts_first(day):
    items, _ = day
    asap = [i["exhausted_hour"] for i in items.values() if i["pacing"] == "asap"]
    others = [i["exhausted_hour"] or 25 for i in items.values() if i["pacing"] != "asap"]
    assert all(h is not None for h in asap)
    assert max(asap) < min(others)


def test_no_overspend_no_violations(day):
    items, report = day
    assert report["totals"]["overspent_line_items"] == 0
    assert all(i["budget_limit_ratio"] <= 1.05 for i in items.values())
    assert report["totals"]["cap_violations"] == 0
    assert report["totals"]["separation_violations"] == 0
