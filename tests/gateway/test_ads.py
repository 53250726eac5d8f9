"""/v1/vast and /v1/vmap through the real app: every emitted document validates against
the IAB XSD of its version, tracking URLs carry verifiable tokens, bad input is a 400."""

from __future__ import annotations

from collections import defaultdict
from urllib.parse import parse_qs, urlsplit

import pytest
from lxml import etree

from gateway.app import create_app
from gateway.config import load_settings
from gateway.services import SIGNER
from tests.vast import xsd

ADMIN = "admin-token-for-tests"
VERSIONS = ["2.0", "3.0", "4.0", "4.1", "4.2", "4.3"]
Q = "sid=dev-1&dur=60&genre=sports&rating=TV-14&dt=ctv&country=US"


@pytest.fixture
async def client(aiohttp_client, tmp_path):
    settings = load_settings(env={"ADGW_ADMIN_TOKEN": ADMIN, "ADGW_SPOOL_DIR": str(tmp_path / "spool"),
                                  "ADGW_PUBLIC_URL": "http://gw.test:8080"})
    return await aiohttp_client(create_app(settings))


@pytest.fixture(scope="module")
def schemas(conformance_dir):
    return xsd.load(conformance_dir)


def local(tag: str) -> str:
    return etree.QName(tag).localname


@pytest.mark.conformance
@pytest.mark.parametrize("version", VERSIONS)
async def test_vast_validates_for_every_version(client, schemas, version):
    resp = await client.get(f"/v1/vast?{Q}&v={version}")
    assert resp.status == 200
    assert resp.content_type == "application/xml"
    body = await resp.read()
    root = etree.fromstring(body)
    assert root.get("version") == version
    ads = [e for e in root if local(e.tag) == "Ad"]
    assert ads, "the fixture catalog fills a 60 s sports break"
    if version == "2.0":
        assert len(ads) == 1  # no pods before VAST 3.0
    else:
        assert [int(a.get("sequence")) for a in ads] == list(range(1, len(ads) + 1))
    assert schemas.errors(body, version) == []


@pytest.mark.conformance
@pytest.mark.parametrize("inline", ["1", "0"])
async def test_vmap_validates(client, schemas, inline):
    resp = await client.get(f"/v1/vmap?{Q}&cdur=1800&cues=600,1200&pre=1&post=1&inline={inline}")
    assert resp.status == 200
    body = await resp.read()
    assert schemas.vmap_errors(body) == []
    root = etree.fromstring(body)
    offsets = [b.get("timeOffset") for b in root.iter("{http://www.iab.net/videosuite/vmap}AdBreak")]
    assert offsets == ["start", "00:10:00.000", "00:20:00.000", "end"]


async def test_vmap_decides_all_breaks_together(client):
    """Competitive separation holds across the breaks of one VMAP: within a category,
    only one advertiser; and no creative twice within a pod."""
    resp = await client.get(f"/v1/vmap?{Q}&cdur=3600&cues=600,1200,1800,2400&pre=1&post=1")
    root = etree.fromstring(await resp.read())
    by_category: dict[str, set[str]] = defaultdict(set)
    creatives = []
    for data in root.iter("{http://www.iab.net/videosuite/vmap}VASTAdData"):
        pod = [c.get("id") for c in data.iter("{http://www.iab.com/VAST}Creative")]
        assert len(pod) == len(set(pod)), pod
    for ad in root.iter("{http://www.iab.com/VAST}Ad"):
        inline = next(e for e in ad if local(e.tag) == "InLine")
        advertiser = next(e.text for e in inline if local(e.tag) == "Advertiser")
        for cat in (e.text for e in inline if local(e.tag) == "Category"):
            by_category[cat].add(advertiser)
        creatives += [c.get("id") for c in inline.iter("{http://www.iab.com/VAST}Creative")]
    assert creatives, "the VMAP is filled"
    assert all(len(advs) == 1 for advs in by_category.values()), dict(by_category)


async def test_tracking_urls_carry_verifiable_tokens(client):
    resp = await client.get(f"/v1/vast?{Q}&v=4.2")
    root = etree.fromstring(await resp.read())
    signer = client.app[SIGNER]
    ads = list(root.iter("{http://www.iab.com/VAST}Ad"))
    for ad in ads:
        serving_id = next(ad.iter("{http://www.iab.com/VAST}AdServingId")).text
        urls = [e.text.strip() for e in ad.iter("{http://www.iab.com/VAST}Impression", "{http://www.iab.com/VAST}Tracking")]
        events = {urlsplit(u).path.rsplit("/", 1)[1] for u in urls}
        assert {"impression", "start", "firstQuartile", "midpoint", "thirdQuartile", "complete"} <= events
        for url in urls:
            parts = urlsplit(url)
            assert parts.netloc == "gw.test:8080" and parts.path.startswith("/v1/b/")
            claims = signer.verify(parse_qs(parts.query)["t"][0])
            assert claims.imp_id == serving_id
        assert "[TIMESTAMP]" in urls[0]  # macros stay literal for the player


async def test_no_fill_is_an_empty_vast(client):
    resp = await client.get("/v1/vast?sid=dev-2&dur=3&v=4.1")  # shorter than any creative
    assert resp.status == 200
    root = etree.fromstring(await resp.read())
    assert root.get("version") == "4.1" and len(root) == 0


@pytest.mark.parametrize("query,param", [
    ("dur=30", "sid"), ("sid=a&v=5.0", "v"), ("sid=a&dur=abc", "dur"), ("sid=a&dur=-5", "dur"),
    ("sid=a&pos=middle", "pos"), ("sid=a&rating=R", "rating"), ("sid=a&lmt=yes", "lmt"),
    ("sid=a&colour=red", "colour"), ("sid=a&cues=10,x", "cues"), ("sid=a&dt=fridge", "dt"),
    ("sid=a&max_ads=%C2%B2", "max_ads"),  # superscript two: isdigit() but not an int
])
async def test_bad_parameters_are_400_naming_the_parameter(client, query, param):
    for path in ("/v1/vast", "/v1/vmap"):
        resp = await client.get(f"{path}?{query}")
        assert resp.status == 400, (path, query)
        assert resp.content_type == "application/problem+json"
        assert (await resp.json())["param"] == param


async def test_debug_trace_needs_the_admin_token(client):
    resp = await client.get(f"/v1/vast?{Q}&debug=1")
    assert resp.status == 401
    resp = await client.get(f"/v1/vast?{Q}&debug=1", headers={"Authorization": f"Bearer {ADMIN}"})
    assert resp.status == 200
    body = await resp.json()
    trace = body["breaks"][0]["trace"]
    assert trace["dropped"], "the trace says why candidates were dropped"
    assert body["breaks"][0]["ads"]
