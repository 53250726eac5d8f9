"""Geo from the client address (ADGW_GEOIP_DB): a MaxMind-format database built here
with mmdb-writer, read by the gateway for ad requests that name no place, for SSAI
sessions, and onto beacon events, before the address is truncated."""

from __future__ import annotations

import orjson
import pytest
from lxml import etree
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from beacons.spool import KIND_EVENT
from decision.request import parse_ad_request
from gateway.app import create_app
from gateway.config import ConfigError, load_settings
from gateway.geo import GeoDB, with_geo
from gateway.routes.beacons import PIPELINE
from gateway.services import SIGNER
from tests.beacons.helpers import KEYS, check_events, claims
from tests.decision.builders import adv, catalog, creative, li

US_CA = "203.0.113.9"  # a city record: country, subdivision, metro code
DE = "198.51.100.20"  # a country-only record
V6_FR = "2001:db8::7"


@pytest.fixture(scope="module")
def geo_db(tmp_path_factory):
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoIP2-City")
    writer.insert_network(IPSet(["203.0.113.0/24"]), {
        "country": {"iso_code": "US"}, "subdivisions": [{"iso_code": "CA"}], "location": {"metro_code": 807}})
    writer.insert_network(IPSet(["198.51.100.0/24"]), {"country": {"iso_code": "de"}})
    writer.insert_network(IPSet(["2001:db8::/32"]), {"country": {"iso_code": "FR"}})
    path = tmp_path_factory.mktemp("geo") / "test-city.mmdb"
    writer.to_db_file(str(path))
    return path


def test_lookups(geo_db):
    geo = GeoDB(geo_db)
    assert geo(US_CA) == ("US", "CA", "807")
    assert geo(DE) == ("DE", None, None)  # codes are upper case whatever the database says
    assert geo(V6_FR) == ("FR", None, None)
    assert geo("::ffff:203.0.113.9") == ("US", "CA", "807")
    for unknown in ("192.0.2.1", "not an address", "", None):
        assert geo(unknown) is None
    geo.close()


def test_what_the_request_says_wins(geo_db):
    geo = GeoDB(geo_db)
    looked_up = with_geo(parse_ad_request({"sid": "s", "ip": US_CA}), geo)
    assert (looked_up.country, looked_up.region, looked_up.dma) == ("US", "CA", "807")
    told = with_geo(parse_ad_request({"sid": "s", "ip": US_CA, "country": "gb"}), geo)
    assert (told.country, told.region, told.dma) == ("GB", None, None)
    assert with_geo(parse_ad_request({"sid": "s", "ip": "192.0.2.1"}), geo).country is None
    assert with_geo(parse_ad_request({"sid": "s", "ip": US_CA}), None).country is None
    geo.close()


def test_the_setting_must_name_a_database(tmp_path, geo_db):
    assert load_settings(env={"ADGW_GEOIP_DB": str(geo_db)}).geoip_db == geo_db
    junk = tmp_path / "junk.mmdb"
    junk.write_bytes(b"not a database at all")
    for value in (str(junk), str(tmp_path / "missing.mmdb")):
        with pytest.raises(ConfigError) as e:
            load_settings(env={"ADGW_GEOIP_DB": value})
        assert "ADGW_GEOIP_DB" in e.value.problems[0]


@pytest.fixture
async def client(aiohttp_client, tmp_path, geo_db):
    doc = catalog([adv("de", "IAB2"), adv("any", "IAB3")],
                  [creative("c-de", "de", 15), creative("c-any", "any", 15)],
                  [li("li-de", "de", ["c-de"], rate=30_000_000, targeting={"eq": ["country", "DE"]}),
                   li("li-any", "any", ["c-any"], tier="house", rate=0)])
    path = tmp_path / "catalog.json"
    path.write_bytes(orjson.dumps(doc))
    settings = load_settings(env={"ADGW_BEACON_KEYS": KEYS, "ADGW_SPOOL_DIR": str(tmp_path / "spool"),
                                  "ADGW_DEMO": "0", "ADGW_TRUSTED_PROXIES": "127.0.0.1",
                                  "ADGW_CATALOG": str(path), "ADGW_GEOIP_DB": str(geo_db)})
    return await aiohttp_client(create_app(settings))


async def _ad_ids(client, query, ip):
    resp = await client.get(f"/v1/vast?{query}", headers={"X-Forwarded-For": ip})
    assert resp.status == 200
    root = etree.fromstring(await resp.read())
    return [c.get("id") for c in root.iter("{*}Creative")]


async def test_geo_targeting_follows_the_viewer_address(client):
    assert await _ad_ids(client, "sid=a&dur=15", DE) == ["c-de"]
    assert await _ad_ids(client, "sid=b&dur=15", US_CA) == ["c-any"]
    assert await _ad_ids(client, "sid=c&dur=15", "192.0.2.5") == ["c-any"]  # not in the database
    assert await _ad_ids(client, "sid=d&dur=15&country=DE", US_CA) == ["c-de"]  # the request says


async def test_beacon_events_carry_geo_not_the_address(client):
    signer = client.app[SIGNER]
    for i, ip in enumerate((US_CA, V6_FR, "192.0.2.5")):
        r = await client.get(f"/v1/b/impression?t={signer.sign(claims(700 + i))}", headers={"X-Forwarded-For": ip})
        assert r.status == 204
    spool = client.app[PIPELINE].spool
    events = [orjson.loads(r.value) for r in spool.iter_all() if r.kind == KIND_EVENT]
    check_events(events)  # against the JSON Schema
    by_ip = {e["device"]["ip_trunc"]: e["geo"] for e in events}
    assert by_ip == {"203.0.113.0": {"country": "US", "region": "CA", "dma": "807"},
                     "2001:db8::": {"country": "FR", "region": None, "dma": None},
                     "192.0.2.0": None}
    assert US_CA not in orjson.dumps(events).decode()


def test_ssai_sessions_keep_the_viewer_place_not_asked_twice(geo_db):
    from gateway.fetch import Allow, Fetcher
    from gateway.ssai_decisions import ad_request_of, session_params
    from ssai.session import SessionRecord

    geo, fetcher = GeoDB(geo_db), Fetcher(Allow.parse([]))
    origin = {"origin": "https://cdn.example.com/show/master.m3u8", "sid": "s1"}
    params = session_params(origin, ua="Roku", ip=US_CA, fetcher=fetcher, geo=geo)
    assert (params["country"], params["region"], params["dma"]) == ("US", "CA", "807")
    told = session_params({**origin, "country": "GB"}, ua="Roku", ip=US_CA, fetcher=fetcher, geo=geo)
    assert told["country"] == "GB" and "region" not in told and "dma" not in told
    later = ad_request_of(SessionRecord(id="x", origin=origin["origin"], params=params))
    assert (later.country, later.region, later.dma) == ("US", "CA", "807")  # every break of the session
    geo.close()
