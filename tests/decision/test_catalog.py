import json
import subprocess
import sys
from pathlib import Path

import pytest

from decision.catalog import CatalogSnapshot, load_catalog, parse_catalog
from decision.errors import CatalogInvalid
from fixtures.make_catalog import make
from tests.decision.builders import adv, catalog, creative, li

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "fixtures" / "catalog.json"
MEDIA_S = {"ad-10a": 10, "ad-15a": 15, "ad-15b": 15, "ad-20a": 20, "ad-30a": 30, "ad-30b": 30}


@pytest.fixture(scope="module")
def fixture_catalog() -> CatalogSnapshot:
    return load_catalog(FIXTURE)


def test_fixture_catalog_is_realistic(fixture_catalog: CatalogSnapshot) -> None:
    snap = fixture_catalog
    assert len(snap.advertisers) >= 40
    assert len(snap.line_items) >= 200
    assert {li.tier for li in snap.line_items} == {"sponsorship", "standard", "programmatic", "house"}
    cats = {a.iab_category for a in snap.advertisers.values()}
    assert {"IAB2", "IAB8-9", "IAB8-5", "IAB7-1", "IAB13-7", "IAB20-3"} <= cats
    assert sum(1 for li in snap.line_items if li.caps) > 50
    assert sum(1 for li in snap.line_items if li.targeting) > 50
    prog = [li for li in snap.line_items if li.tier == "programmatic"]
    assert len(prog) >= 2
    assert all(snap.creatives[c].vast_tag_url for li in prog for c in li.creative_ids)


def test_fixture_creatives_reference_demo_media(fixture_catalog: CatalogSnapshot) -> None:
    for cr in fixture_catalog.creatives.values():
        if cr.vast_tag_url:
            continue
        name = cr.hls_url.split("/")[3]
        assert cr.hls_url == f"/demo/ads/{name}/master.m3u8"
        assert cr.duration_s == MEDIA_S[name]
        assert [m.url for m in cr.media] == [f"/demo/ads/{name}.mp4"]
        assert [(v.uri, v.bandwidth, v.resolution, v.codecs) for v in cr.hls_variants] == [
            (f"/demo/ads/{name}/v0.m3u8", 400_000, (320, 180), "avc1.42c01e,mp4a.40.2"),
            (f"/demo/ads/{name}/v1.m3u8", 800_000, (480, 270), "avc1.42c01e,mp4a.40.2"),
            (f"/demo/ads/{name}/v2.m3u8", 1_400_000, (640, 360), "avc1.42c01e,mp4a.40.2"),
        ]


def test_fixture_flights_cover_now(fixture_catalog: CatalogSnapshot) -> None:
    for item in fixture_catalog.line_items:
        assert item.start <= 1767225600.0 and item.end >= 1830297599.0  # 2026-01-01 .. 2027-12-31


def test_committed_fixture_is_what_the_script_generates() -> None:
    assert json.loads(FIXTURE.read_text()) == make()


def test_script_generates_large_catalogs(tmp_path: Path) -> None:
    out = tmp_path / "big.json"
    subprocess.run([sys.executable, str(ROOT / "fixtures" / "make_catalog.py"), "--line-items", "1500", "--out",
                    str(out)], check=True, capture_output=True)
    snap = load_catalog(out)
    assert len(snap.line_items) == 1500


def test_broken_catalog_reports_every_problem() -> None:
    doc = catalog(
        [adv("acme"), {"id": "bad id!", "name": "X", "domain": "x.com"}],
        [creative("cr-1", "acme"), creative("cr-2", "nobody"), {"id": "cr-3", "advertiser_id": "acme", "duration_s": -5,
                                                                 "media": [{"url": "/a.mp4"}]},
         {"id": "cr-4", "advertiser_id": "acme", "duration_s": 15}],
        [
            li("li-1", "acme", ["cr-1"], tier="premium"),
            li("li-2", "acme", ["cr-404"], goal="CPA", rate=-1),
            li("li-3", "acme", ["cr-1"], caps=[{"n": 0, "per": "fortnight", "scope": "galaxy"}]),
            li("li-4", "acme", ["cr-1"], targeting={"all": [{"in": ["planet", ["mars"]]}, {"xor": []}]}),
            li("li-5", "acme", ["cr-1"], flight={"start": "2027-01-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"}),
            li("li-5", "acme", ["cr-1"], allowed_ratings=["R"], position="middle"),
            li("li-7", "acme", ["cr-1"], tier="programmatic"),
            li("li-8", "acme", ["cr-1"], pacing="lazy", dayparts=[{"start_hour": 20, "end_hour": 3}]),
        ],
    )
    doc["campaigns"].append({"id": "cmp-ghost", "advertiser_id": "ghost"})
    with pytest.raises(CatalogInvalid) as info:
        parse_catalog(doc)
    problems = "\n".join(info.value.problems)
    expected = [
        "advertisers[1].id: invalid id 'bad id!'",
        "advertisers[1].iab_category: required",
        "campaigns[2].advertiser_id: unknown advertiser 'ghost'",
        "creatives[1].advertiser_id: unknown advertiser 'nobody'",
        "creatives[2].duration_s: must be in (0, 300]",
        "creatives[3]: a creative needs media renditions",
        "line_items[0].tier: unknown tier 'premium'",
        "line_items[1].goal: unknown goal 'CPA'",
        "line_items[1].rate_micros: must be >= 0",
        "line_items[1].creative_ids[0]: unknown creative 'cr-404'",
        "line_items[2].caps[0].n: must be >= 1",
        "line_items[2].caps[0].per: unknown window 'fortnight'",
        "line_items[2].caps[0].scope: unknown scope 'galaxy'",
        "line_items[3].targeting.all[0].in: unknown attribute 'planet'",
        "line_items[3].targeting.all[1]: unknown operator 'xor'",
        "line_items[4].flight: end must be after start",
        "line_items[5].id: duplicate id 'li-5'",
        "line_items[5].allowed_ratings: unknown rating(s) ['R']",
        "line_items[5].position: must be first or last",
        "line_items[6].creative_ids[0]: programmatic line items need creatives with a vast_tag_url",
        "line_items[7].pacing: unknown pacing 'lazy'",
        "line_items[7].dayparts[0]: need 0 <= start_hour < end_hour <= 24",
    ]
    for e in expected:
        assert e in problems, e
    assert len(info.value.problems) >= len(expected)


def test_not_json_and_not_object() -> None:
    with pytest.raises(CatalogInvalid):
        parse_catalog([1, 2])
    with pytest.raises(CatalogInvalid) as info:
        parse_catalog({})
    assert {p.split(":")[0] for p in info.value.problems} >= {"version", "advertisers", "line_items"}


def test_counted_windows_cover_every_capped_entity() -> None:
    doc = catalog([adv("a")], [creative("c1", "a"), creative("c2", "a")], [
        li("l1", "a", ["c1"], caps=[{"n": 3, "per": "day", "scope": "advertiser"}]),
        li("l2", "a", ["c2"], caps=[{"n": 1, "per": "hour"}, {"n": 1, "per": "stream"}]),
    ])
    snap = parse_catalog(doc)
    assert snap.counted_windows == {("advertiser", "a"): ("day",), ("line_item", "l2"): ("hour",)}
    assert [c.cap_specs for c in snap.candidates] == [((3, "day", "advertiser", "a"),),
                                                      ((1, "hour", "line_item", "l2"), (1, "stream", "line_item", "l2"))]


def test_traffic_events_are_parsed_and_validated():
    import orjson

    from decision.catalog import parse_catalog
    from decision.errors import CatalogInvalid
    from decision.forecast import ScheduledEvent

    doc = orjson.loads((Path(__file__).resolve().parents[2] / "fixtures" / "catalog.json").read_bytes())
    assert parse_catalog(doc).traffic_events == ()
    doc["traffic_events"] = [{"name": "final", "start": "2026-03-02T20:00:00-05:00",
                              "end": "2026-03-02T22:00:00-05:00", "factor": 2.5}]
    snap = parse_catalog(doc)
    assert snap.traffic_events == (ScheduledEvent(1772499600.0, 1772506800.0, 2.5, "final"),)
    doc["traffic_events"] = [{"start": "2026-03-02T20:00:00Z", "end": "2026-03-02T19:00:00Z", "factor": 2},
                             {"start": "soon", "end": 0, "factor": 0}, "x"]
    with pytest.raises(CatalogInvalid) as err:
        parse_catalog(doc)
    text = " ".join(err.value.problems)
    assert "traffic_events[0].end" in text and "traffic_events[1].factor" in text and "traffic_events[2]" in text
