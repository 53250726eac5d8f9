"""Concurrent players of one session: every variant gets the same ads, decided once; live
refreshes of /demo/live through the gateway keep numbering and discontinuities continuous;
every playlist the gateway emits parses with the npm m3u8-parser without warnings."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ssai.demo import LIVE_BREAKS, LOOP_SEGMENTS, SEGMENT_S
from ssai.playlist import parse_media
from tests.e2e_ssai.conftest import Gateway, media_url
from tests.e2e_ssai.helpers import ad_blocks
from tests.ssai.test_js_parser import node_parser  # noqa: F401 - the fixture

pytestmark = pytest.mark.e2e

VARIANTS = 3


def _identity(uri: str) -> str:
    """A segment's identity across variants: the variant number taken out."""
    return re.sub(r"\?v=\d+$", "", re.sub(r"/v\d/", "/v*/", uri))


def _fetch_all(gateway: Gateway, urls: list[str]) -> list[str]:
    with ThreadPoolExecutor(len(urls)) as pool:
        answers = list(pool.map(gateway.get, urls))
    for answer in answers:
        assert answer.status == 200, answer.text
    return [a.text for a in answers]


def test_concurrent_variants_of_a_fresh_session_get_identical_ads(gateway: Gateway) -> None:
    for attempt in range(3):
        session = gateway.session(sid=f"concurrent-{attempt}")
        texts = _fetch_all(gateway, [media_url(session, n) for n in range(VARIANTS)] * 2)
        per_variant = [[(b.avail, b.ad, b.start, b.duration, b.segments) for b in ad_blocks(t)] for t in texts]
        assert per_variant[0], texts[0]
        assert all(p == per_variant[0] for p in per_variant), per_variant
        assert [b.variant for b in ad_blocks(texts[2])] == [2] * len(per_variant[0])
        tracked = [(a["availId"], ad["adId"]) for a in gateway.get(session["tracking_url"]).json()["avails"]
                   for ad in a["ads"]]  # fmt: skip
        assert tracked == [(p[0], p[1]) for p in per_variant[0]]


def _wait_for_an_avail_ahead() -> None:
    """Start when the live window holds a CUE-OUT or one is about to be published, so the
    refreshes cross a content/ad switch (the demo loop is 60 s with two avails)."""
    starts = [start for start, _ in LIVE_BREAKS]
    while True:
        last = int(time.time() // SEGMENT_S) - 1
        loop = last % LOOP_SEGMENTS
        # in the window with room to spare, or published within a few segments
        if any(0 <= loop - s <= 6 or 1 <= s - loop <= 3 for s in starts):
            return
        time.sleep(0.25)


def test_live_refreshes_stay_continuous_and_parse(gateway: Gateway, node_parser: Path, tmp_path: Path) -> None:  # noqa: F811
    _wait_for_an_avail_ahead()
    session = gateway.session("/demo/live/master.m3u8", sid="live-device")
    urls = [media_url(session, n) for n in range(VARIANTS)]
    seen: list[dict[int, tuple[str, int]]] = [{} for _ in range(VARIANTS)]
    first_seq = [-1] * VARIANTS
    ads = set()
    files = []
    started = time.monotonic()
    step = ad_steps = 0
    # ~10 s of refreshes; longer only while waiting for the announced avail to be stitched
    while time.monotonic() - started < 10.0 or (ad_steps < 2 and time.monotonic() - started < 24.0):
        texts = _fetch_all(gateway, urls)
        rows = []
        for n, text in enumerate(texts):
            path = tmp_path / f"live-{step}-{n}.m3u8"
            path.write_text(text)
            files.append(path)
            playlist = parse_media(text)
            segs = playlist.segments
            assert segs and not playlist.endlist, text
            assert segs[0].sequence >= first_seq[n], (first_seq[n], text)
            first_seq[n] = segs[0].sequence
            for seg in segs:
                key = (_identity(seg.uri), seg.discontinuity_sequence)
                assert seen[n].setdefault(seg.sequence, key) == key, (step, n, seg.sequence, seen[n][seg.sequence], key)
            for a, b in zip(segs, segs[1:], strict=False):
                if ("/seg/" in a.uri) != ("/seg/" in b.uri) or ("/slate/" in a.uri) != ("/slate/" in b.uri):
                    assert b.discontinuity, (step, n, b.uri)
            ads.update((blk.avail, blk.ad) for blk in ad_blocks(playlist))
            rows.append({s.sequence: (_identity(s.uri), s.discontinuity_sequence) for s in segs})
        ad_steps += any("/seg/" in t for t in texts)
        common = set.intersection(*(set(r) for r in rows))
        assert common
        for r in rows[1:]:
            assert {k: r[k] for k in common} == {k: rows[0][k] for k in common}
        step += 1
        time.sleep(1.0)
    assert step >= 5
    assert len({s for s in first_seq}) == 1 and first_seq[0] > 0
    assert ads, "no ad was stitched into the live window"
    tracked = {(a["availId"], ad["adId"]) for a in gateway.get(session["tracking_url"]).json()["avails"]
               for ad in a["ads"]}  # fmt: skip
    assert tracked & ads

    # every playlist the gateway emitted, VOD and interstitials too, parses without warnings
    vod = gateway.session(sid="parser-device")
    hlsi = gateway.session(sid="parser-hlsi", mode="interstitials")
    for name, url in [("master.m3u8", vod["manifest_url"]), ("live-master.m3u8", session["manifest_url"]),
                      *((f"vod-{n}.m3u8", media_url(vod, n)) for n in range(VARIANTS)),
                      ("hlsi-0.m3u8", media_url(hlsi, 0))]:  # fmt: skip
        answer = gateway.get(url)
        assert answer.status == 200
        (tmp_path / name).write_text(answer.text)
        files.append(tmp_path / name)
    canary = tmp_path / "canary.m3u8"  # proves the warning hook works
    canary.write_text("#EXTM3U\n#EXT-X-TARGETDURATION:abc\n#EXTINF:2,\na.ts\n")
    node = Path(sys.executable).parent / "node"
    proc = subprocess.run([str(node), str(node_parser / "check.js"), str(canary), *map(str, files)],
                          capture_output=True, text=True, timeout=60, cwd=node_parser)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result.pop(str(canary))["warnings"]
    assert len(result) == len(files)
    for file, info in result.items():
        assert info["warnings"] == [], (file, info["warnings"])
        assert info["segments"] > 0 or info["playlists"] > 0, file
