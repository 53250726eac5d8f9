"""The thin HTTP edge in-process (aiohttp test client): status codes, headers and
problem+json bodies of GET /v1/b/{event} and POST /v1/b."""

from __future__ import annotations

import time

import orjson
import pytest

from beacons.spool import KIND_EVENT, KIND_INVALID
from beacons.tokens import KeyRing, TokenSigner
from gateway.app import create_app
from gateway.config import load_settings
from gateway.routes import beacons as beacon_routes
from gateway.services import SIGNER
from tests.beacons.helpers import KEYS, check_events, check_invalid, claims


@pytest.fixture
async def client(aiohttp_client, tmp_path):
    settings = load_settings(env={"ADGW_BEACON_KEYS": KEYS, "ADGW_SPOOL_DIR": str(tmp_path / "spool"),
                                  "ADGW_DEMO": "0", "ADGW_TRUSTED_PROXIES": "127.0.0.1"})
    app = create_app(settings)
    return await aiohttp_client(app)


async def test_get_statuses(client):
    signer = client.app[SIGNER]
    token = signer.sign(claims(1))
    r = await client.get(f"/v1/b/impression?t={token}&ts=%5BTIMESTAMP%5D")
    assert r.status == 204 and "X-Adgw-Duplicate" not in r.headers
    r = await client.get(f"/v1/b/impression?t={token}&ts=[TIMESTAMP]")
    assert r.status == 204 and r.headers["X-Adgw-Duplicate"] == "1"
    r = await client.get(f"/v1/b/error?t={token}&code=[ERRORCODE]", headers={"X-Forwarded-For": "198.51.100.9"})
    assert r.status == 204
    expired = signer.sign(claims(2, expires_at=int(time.time()) - 7200))
    forged = TokenSigner(KeyRing.parse("k2:attacker-secret-0123456789")).sign(claims(3))
    for url, status, reason in [
        (f"/v1/b/bogus?t={token}", 400, "unknown_event"),
        (f"/v1/b/error?t={token}&code=xyz", 400, "bad_code"),
        (f"/v1/b/impression?t={token}&ts=%FF%FE", 400, "bad_utf8"),
        ("/v1/b/impression", 400, "malformed_token"),
        (f"/v1/b/impression?t={forged}", 403, "bad_signature"),
        (f"/v1/b/impression?t=zz.{token.split('.', 1)[1]}", 403, "unknown_key"),
        (f"/v1/b/impression?t={expired}", 410, "expired"),
    ]:
        r = await client.get(url)
        assert r.status == status, (url, await r.text())
        assert r.content_type == "application/problem+json"
        body = await r.json(content_type=None)
        assert body["status"] == status and body["reason"] == reason


async def test_batch(client):
    signer = client.app[SIGNER]
    t1, t2 = signer.sign(claims(11)), signer.sign(claims(12))
    body = [{"event": "impression", "t": t1, "ts": int(time.time() * 1000)},
            {"event": "impression", "t": t1},
            {"event": "error", "t": t2, "code": 402},
            {"event": "start", "t": "garbage"},
            {"event": 5, "t": t1},
            "nope"]
    r = await client.post("/v1/b", data=orjson.dumps(body))
    assert r.status == 200
    results = (await r.json())["results"]
    assert [x["status"] for x in results] == [204, 204, 204, 403, 400, 400]
    assert results[1].get("duplicate") is True and "duplicate" not in results[0]
    for bad in (b"{", b'{"a": 1}', orjson.dumps([{"event": "impression", "t": t1}] * 1001)):
        r = await client.post("/v1/b", data=bad)
        assert r.status == 400 and r.content_type == "application/problem+json"
    spool = client.app[beacon_routes.PIPELINE].spool
    records = list(spool.iter_all())
    events = [orjson.loads(x.value) for x in records if x.kind == KIND_EVENT]
    check_events(events)
    check_invalid(orjson.loads(x.value) for x in records if x.kind == KIND_INVALID)
    assert sorted(e["event"] for e in events) == ["error", "impression"]
    assert next(e for e in events if e["event"] == "error")["error_code"] == 402


async def test_traffic_settings_reach_the_intake(aiohttp_client, tmp_path):
    settings = load_settings(env={"ADGW_BEACON_KEYS": KEYS, "ADGW_SPOOL_DIR": str(tmp_path / "spool"),
                                  "ADGW_DEMO": "0", "ADGW_TRUSTED_PROXIES": "127.0.0.1",
                                  "ADGW_BEACON_DATACENTER_NETWORKS": "203.0.113.0/24",
                                  "ADGW_BEACON_RATE_IP": "1:3"})
    client = await aiohttp_client(create_app(settings))
    signer = client.app[SIGNER]
    from_dc = {"X-Forwarded-For": "203.0.113.50"}
    statuses = [(await client.get(f"/v1/b/impression?t={signer.sign(claims(400 + i))}", headers=from_dc)).status
                for i in range(5)]
    assert statuses[:3] == [204, 204, 204] and statuses[3:] == [429, 429]  # a burst of 3, then 1/s
    r = await client.get(f"/v1/b/impression?t={signer.sign(claims(499))}", headers={"X-Forwarded-For": "198.51.100.1"})
    assert r.status == 204  # another address has its own bucket
    spool = client.app[beacon_routes.PIPELINE].spool
    events = {e["imp_id"]: e for e in (orjson.loads(r.value) for r in spool.iter_all() if r.kind == KIND_EVENT)}
    flagged = {imp for imp, e in events.items() if "datacenter_ip" in e["flags"]}
    assert len(events) == 4 and len(flagged) == 3
