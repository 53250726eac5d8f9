"""What /v1/vast and /v1/vmap emit parses in the real players' parsers
(@dailymotion/vast-client and @dailymotion/vmap), for every VAST version."""

from __future__ import annotations

import pytest

from gateway.app import create_app
from gateway.config import load_settings
from tests.vast.test_players import players, problems, run_players  # noqa: F401 - fixture

VERSIONS = ["2.0", "3.0", "4.0", "4.1", "4.2", "4.3"]
Q = "sid=dev-9&dur=60&genre=sports&rating=TV-14&dt=ctv&country=US"


@pytest.fixture
async def client(aiohttp_client, tmp_path):
    settings = load_settings(env={"ADGW_SPOOL_DIR": str(tmp_path / "spool"), "ADGW_PUBLIC_URL": "http://gw.test"})
    return await aiohttp_client(create_app(settings))


async def test_players_parse_every_emitted_document(client, players, tmp_path):  # noqa: F811
    files = []
    for v in VERSIONS:
        for name, path in ((f"vast-{v}", f"/v1/vast?{Q}&v={v}"),
                           (f"vmap-inline-{v}", f"/v1/vmap?{Q}&v={v}&cdur=1800&cues=900&pre=1&post=1"),
                           (f"vmap-tag-{v}", f"/v1/vmap?{Q}&v={v}&cues=900&inline=0"),
                           (f"nofill-{v}", f"/v1/vast?sid=x&dur=2&v={v}")):
            resp = await client.get(path)
            assert resp.status == 200, (path, await resp.text())
            out = tmp_path / f"{name}.xml"
            out.write_bytes(await resp.read())
            files.append((out, "vmap" if name.startswith("vmap") else "vast"))
    results = {r["path"].rsplit("/", 1)[1][:-4]: r for r in run_players(players, files)}
    for v in VERSIONS:
        pod = results[f"vast-{v}"]
        assert problems(pod, v) == [] and pod["errorEvents"] == [], (v, pod["problems"])
        assert pod["ads"], f"VAST {v} pod is filled"
        for ad in pod["ads"]:
            assert ad["impressions"] >= 1 and ad["mediaFiles"] >= 1
            assert {"start", "firstQuartile", "midpoint", "thirdQuartile", "complete"} <= set(ad["events"])
        assert results[f"nofill-{v}"]["ads"] == []
        inline = results[f"vmap-inline-{v}"]
        assert inline["problems"] == [], inline["problems"]
        assert [b["timeOffset"] for b in inline["breaks"]] == ["start", "00:15:00.000", "end"]
        for b in inline["breaks"]:
            assert problems(b["vast"], v) == [] and b["vast"]["ads"]
        assert results[f"vmap-tag-{v}"]["problems"] == []
