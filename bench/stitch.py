"""Stitching speed: a 2-hour VOD (1,800 segments, 6 breaks) and a 30-segment live window,
beside `m3u8.loads` + `dumps` of the same playlists in the same run. Prints; asserts nothing.

    .venv/bin/python bench/stitch.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import m3u8  # noqa: E402

from ssai.plan import AdMedia, AdVariant, FillPolicy, find_breaks, make_plan  # noqa: E402
from ssai.playlist import parse_media  # noqa: E402
from ssai.rendition import Target  # noqa: E402
from ssai.stitch import LiveState, OriginCache, StitchOptions, live_breaks, stitch, stitch_live  # noqa: E402


def vod_text() -> str:
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:4", "#EXT-X-PLAYLIST-TYPE:VOD"]
    for i in range(1800):
        if i and i % 300 == 0 or i == 150:
            lines += ["#EXT-X-CUE-OUT:DURATION=60", "#EXT-X-CUE-IN"]
        lines += ["#EXTINF:4.000,", f"content/seg_{i:05d}.ts"]
    return "\n".join(lines) + "\n#EXT-X-ENDLIST\n"


def live_text(first: int) -> str:
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:2", f"#EXT-X-MEDIA-SEQUENCE:{first}"]
    for n in range(first, first + 30):
        if n % 60 == 20:
            lines.append("#EXT-X-CUE-OUT:DURATION=30")
        elif 20 < n % 60 < 35:
            lines.append(f"#EXT-X-CUE-OUT-CONT:ElapsedTime={(n % 60 - 20) * 2},Duration=30")
        elif n % 60 == 35:
            lines.append("#EXT-X-CUE-IN")
        lines.append(f"#EXT-X-PROGRAM-DATE-TIME:2025-01-01T00:{n * 2 // 60 % 60:02d}:{n * 2 % 60:02d}.000Z")
        lines += ["#EXTINF:2.000,", f"live/seg_{n}.ts"]
    return "\n".join(lines) + "\n"


def ad(name: str, seconds: float) -> AdMedia:
    variants = []
    for i, bw in enumerate((110_000, 150_000, 220_000)):
        body = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n" + "".join(f"#EXTINF:2.0,\ns{k}.ts\n" for k in range(int(seconds / 2)))
        variants.append(AdVariant.from_playlist(f"https://ads.example/{name}/v{i}.m3u8", parse_media(body), bw))
    return AdMedia(name, seconds, tuple(variants))


def measure(fn, runs: int) -> tuple[float, float]:
    for _ in range(min(20, runs)):
        fn()
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1e6)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def main() -> None:
    cache = OriginCache()
    options = StitchOptions(target=Target("video", 150_000))
    pods = [ad("a30", 30.0), ad("b30", 30.0)]

    text = vod_text()
    url = "https://origin.example/vod/v1.m3u8"
    origin = cache.get(text, url)
    breaks = find_breaks(origin.playlist)
    plan = make_plan(breaks, {b.id: pods for b in breaks})
    assert len(breaks) == 6 and len(origin.playlist.segments) == 1800

    def vod_request() -> str:  # what a refetch costs: cache hit on (url, body hash), plan, stitch
        o = cache.get(text, url)
        return stitch(o, make_plan(find_breaks(o.playlist), {b.id: pods for b in breaks}), options)

    rows = [
        ("VOD 2 h parse (ssai.playlist.parse_media)", measure(lambda: parse_media(text), 100)),
        ("VOD 2 h stitch (parsed origin cached)", measure(lambda: stitch(origin, plan, options), 300)),
        ("VOD 2 h request (cache hit + markers + plan + stitch)", measure(vod_request, 200)),
        ("VOD 2 h m3u8.loads + dumps", measure(lambda: m3u8.loads(text).dumps(), 30)),
    ]

    live = [live_text(first) for first in range(1000, 1060)]
    live_url = "https://origin.example/live/v1.m3u8"
    policy = FillPolicy(slate=ad("slate", 2.0))
    state = {"s": LiveState(), "i": 0}

    def live_request() -> str:
        body = live[state["i"] % len(live)]
        state["i"] += 1
        if state["i"] % len(live) == 0:
            state["s"] = LiveState()
        o = cache.get(body, live_url)
        lb = live_breaks(o.playlist, state["s"])
        out, state["s"] = stitch_live(o, make_plan(lb, {b.id: [pods[0]] for b in lb}, policy), options, state["s"])
        return out

    rows += [
        ("live 30 segments request (cache + markers + plan + stitch)", measure(live_request, 600)),
        ("live 30 segments m3u8.loads + dumps", measure(lambda: m3u8.loads(live[0]).dumps(), 300)),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'case':<{width}}  {'median µs':>10}  {'p99 µs':>10}")
    for name, (median, p99) in rows:
        print(f"{name:<{width}}  {median:>10.1f}  {p99:>10.1f}")


if __name__ == "__main__":
    main()
