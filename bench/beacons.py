"""Beacon intake throughput and latency over loopback: the real `adgw serve` (subprocess)
beside a minimal aiohttp handler answering 204, driven by the same aiohttp client in the
same run. Prints figures; asserts nothing.

Targets, each measured in two phases:
  minimal        a bare aiohttp app answering 204 (the ceiling of this client and host)
  adgw memory    `adgw serve`, in-process dedup store, spool only (fsync per group commit)
  adgw redis     the same with ADGW_REDIS_URL on a private redis-server (dedup in Redis)
  adgw kafka     redis plus ADGW_KAFKA_BOOTSTRAP on a private Tansu broker: the spool
                 forwards to Kafka and counting is `adgw events consume`'s job (not run)

  max    closed loop: --requests beacons over --concurrency keep-alive connections, as fast
         as the server answers -> the sustained rate, p50/p99
  paced  open loop at --paced-fraction (default 50%) of that target's max rate for
         --paced-seconds: requests leave on a fixed schedule whatever the answers do, and
         latency counts from the scheduled send time (no coordinated omission)

Besides rates and latencies (which depend on what else the host runs), each max phase
prints the CPU time the server process and this client spent per answered beacon
(from /proc and getrusage): the steadier figure on a shared host. Each paced phase
prints the server's CPU per beacon and the share of a core it used: a request costs
more CPU at a lower rate (fewer requests per wake-up of the loop; the minimal handler
too: measured here 1.2-1.35x its full-load CPU at half its rate, ~1.5x at 1,700/s), and
that share sets the queueing behind the p99.

Each gateway phase also prints its spool commits from the gateway's
`adgw_spool_commit_seconds` histogram: how many took over 20 ms and at least how long
they held. Some hosts' virtual disks stall an fdatasync for 100-300 ms now and then, idle
or not (seen here, 2026-11); a paced phase that meets one has its p99 set by the disk, so
the summary gives the p99 of the phases that met none beside the rest.

Every server and service runs through the whole bench, so before each phase the bench
waits until together they use under a tenth of a core: work one phase leaves behind (the
embedded counter catching up, the forwarder and broker taking the spool) is not paid in
the next, measuring another target.

With --rounds N the targets run N times interleaved; the summary gives best and median.
With --workers N every server (the minimal handler too) runs N processes on one port,
as `adgw serve --workers N` does in production (one per core). The run first prints
the disk's own append + fdatasync latency: no durable answer can beat it.

    .venv/bin/python bench/beacons.py [--requests 20000] [--concurrency 64] [--rounds 1]
        [--variants memory,redis] [--paced-seconds 5] [--kafka HOST:PORT] [--workers 1]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from beacons.tokens import KeyRing, TokenClaims, TokenSigner  # noqa: E402
from decision.request import device_ref  # noqa: E402

KEYS = "b1:bench-secret-0123456789abcdef"
MINIMAL = """
import os, sys, uvloop
from aiohttp import web
async def ok(request):
    return web.Response(status=204)
workers = int(sys.argv[2])
for _ in range(workers - 1):  # like `adgw serve --workers N`: processes sharing the port
    if os.fork() == 0:
        break
app = web.Application()
app.router.add_get("/v1/b/{event}", ok)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None,
            reuse_port=workers > 1 or None, loop=uvloop.new_event_loop())
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


def start_adgw(port: int, spool: str, redis: str | None, kafka: str | None, workers: int) -> subprocess.Popen:
    adgw = Path(sys.executable).with_name("adgw")
    argv = [str(adgw)] if adgw.exists() else [sys.executable, "-m", "gateway.cli"]
    env = {**os.environ, "ADGW_BEACON_KEYS": KEYS, "ADGW_SPOOL_DIR": spool, "ADGW_DEMO": "0",
           "ADGW_TRUSTED_PROXIES": "127.0.0.1", "ADGW_PUBLIC_URL": f"http://127.0.0.1:{port}",
           "ADGW_LOG_LEVEL": "warning"}
    env.pop("ADGW_REDIS_URL", None)
    if redis:
        env["ADGW_REDIS_URL"] = redis
    if kafka:
        env["ADGW_KAFKA_BOOTSTRAP"] = kafka
    argv += ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    return subprocess.Popen(argv, env={**env, "PYTHONPATH": str(ROOT)}, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=None, start_new_session=True)


_SIGNER = TokenSigner(KeyRing.parse(KEYS))
_RUN = os.urandom(4).hex()
_SEQ = [0]


def tokens(n: int) -> list[str]:
    """Fresh tokens (distinct imp ids across the whole run, so no phase meets another's
    dedup marks)."""
    now = time.time()
    out = []
    for _ in range(n):
        i = _SEQ[0]
        _SEQ[0] += 1
        out.append(_SIGNER.sign(TokenClaims(
            imp_id=f"imp-{_RUN}-{i}", session_id=f"s-{_RUN}-{i // 4}", pod_id=f"p-{i // 4}", pod_pos=i % 4 + 1,
            line_item_id=f"li-{i % 8}", campaign_id="c-1", advertiser_id="a-1", creative_id=f"cr-{i % 5}",
            price_micros=20_000_000, expires_at=int(now + 3600), start_ms=int(now * 1000), duration_ms=15_000,
            cid="show", channel="news", genre="drama", device_type="ctv", device_ref=device_ref(f"d{i}"))))
    return out


def _headers(i: int) -> dict[str, str]:
    return {"X-Forwarded-For": f"10.{i % 250}.{(i // 250) % 250}.{i % 200 + 1}", "User-Agent": "Roku/DVP-12.0"}


def _proc_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(v) for v in fields[11:13]) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process and of its live descendants (the workers), Linux /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        total += _proc_cpu(p)
        todo += children.get(p, [])
    return total


def fsync_latency(directory: str, n: int = 200) -> tuple[float, float]:
    """p50 and p99 (ms) of appending 2 KB and fdatasync on the spool's file system: the
    floor under any answer that waits for durability."""
    path = Path(directory) / "fsync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    lat = []
    try:
        for _ in range(n):
            os.write(fd, b"x" * 2048)
            t0 = time.perf_counter()
            os.fdatasync(fd)
            lat.append(time.perf_counter() - t0)
            time.sleep(0.002)
    finally:
        os.close(fd)
        path.unlink()
    lat.sort()
    return lat[n // 2] * 1000, lat[min(n - 1, int(n * 0.99))] * 1000


def host_ticks() -> list[int] | None:
    """The host's CPU time counters (/proc/stat: user .. steal), or None off Linux."""
    try:
        return [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return None


def steal_share(before: list[int] | None) -> float:
    """The share of CPU time the hypervisor took from this VM since `before`: on a shared
    host it says how far a phase's figures were the host's doing."""
    after = host_ticks()
    if before is None or after is None:
        return float("nan")
    delta = [a - b for a, b in zip(after, before, strict=True)]
    return delta[7] / max(1, sum(delta))


def own_cpu_seconds() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


@dataclass
class Phase:
    elapsed: float
    latencies: list[float]
    statuses: dict[int, int] = field(default_factory=dict)
    server_cpu_us: float = float("nan")  # per answered beacon
    client_cpu_us: float = float("nan")
    steal: float = float("nan")  # the host's CPU steal during the phase
    disk: DiskStalls | None = None  # the gateway's spool commits during the phase

    @property
    def rate(self) -> float:
        return self.statuses.get(204, 0) / self.elapsed

    def pct(self, q: float) -> float:
        lat = self.latencies
        return lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else float("nan")


async def closed_loop(session: aiohttp.ClientSession, base: str, toks: list[str], concurrency: int) -> Phase:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue = iter(enumerate(toks))

    async def worker() -> None:
        for i, tok in queue:
            t0 = time.perf_counter()
            async with session.get(f"{base}/v1/b/impression?t={tok}&ts=[TIMESTAMP]", headers=_headers(i)) as r:
                await r.read()
            latencies.append(time.perf_counter() - t0)
            statuses[r.status] = statuses.get(r.status, 0) + 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    return Phase(elapsed, sorted(latencies), statuses)


async def open_loop(session: aiohttp.ClientSession, base: str, toks: list[str], rate: float) -> Phase:
    """Request i leaves at start + i/rate; its latency counts from then. The session's
    connections are already open (a burst of new connections would measure the listen
    backlog and SYN retransmits, not the server); a request that finds them all busy
    waits, and that wait counts."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def one(i: int, tok: str, due: float) -> None:
        try:
            async with session.get(f"{base}/v1/b/impression?t={tok}&ts=[TIMESTAMP]",
                                   headers=_headers(i)) as r:
                await r.read()
            status = r.status
        except aiohttp.ClientError:
            status = 599
        latencies.append(time.perf_counter() - due)
        statuses[status] = statuses.get(status, 0) + 1

    tasks = []
    start = time.perf_counter() + 0.02
    for i, tok in enumerate(toks):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, tok, due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    return Phase(elapsed, sorted(latencies), statuses)


def line(name: str, what: str, ph: Phase, extra: str = "") -> str:
    steal = "" if ph.steal != ph.steal else f"   steal {ph.steal:.0%}"
    return (f"{name:<14} {what:<18} {ph.rate:>8.0f}/s   p50 {ph.pct(0.5):7.2f} ms   p99 {ph.pct(0.99):7.2f} ms"
            f"   {dict(sorted(ph.statuses.items()))}{steal}{extra}")


SLOW_COMMIT_S = 0.02  # the paced p99 target: one commit this slow holds every beacon behind it past it


@dataclass
class Scrape:
    """What a phase needs from the gateway's /metrics: its worst event-loop lag since the
    last scrape, and its spool commits so far (cumulative counts by histogram bucket)."""
    lag_ms: float | None
    commits: dict[float, float]


async def scrape(session: aiohttp.ClientSession, base: str) -> Scrape | None:
    """None: not a gateway (the minimal handler)."""
    try:
        async with session.get(f"{base}/metrics") as r:
            text = await r.text() if r.status == 200 else ""
    except aiohttp.ClientError:
        return None
    lag_ms = None
    commits: dict[float, float] = {}
    for line in text.splitlines():
        if line.startswith("adgw_event_loop_lag_max_seconds "):
            lag_ms = float(line.split()[-1]) * 1000
        elif line.startswith('adgw_spool_commit_seconds_bucket{le="'):
            le = line.split('"', 2)[1]
            commits[float("inf") if le == "+Inf" else float(le)] = float(line.split()[-1])
    return Scrape(lag_ms, commits) if lag_ms is not None else None


def lag_note(now: Scrape | None) -> str:
    return "" if now is None or now.lag_ms is None else f"   worst loop lag {now.lag_ms:.1f} ms"


@dataclass
class DiskStalls:
    """The spool commits of one phase: the disk's share of its latency. A virtual disk
    here stalls an fdatasync for 100-300 ms now and then, idle or not, on every file at
    once; every beacon arriving meanwhile waits for it, whatever the gateway does."""
    commits: int
    slow: int  # commits over SLOW_COMMIT_S
    slow_s: float  # at least this long in them (each counted at its bucket's lower bound)
    slowest_le: float  # the slowest commit took at most this (inf: over the last bucket)

    def note(self, elapsed: float) -> str:
        if not self.slow:
            return f"   disk: {self.commits} commits, none over {SLOW_COMMIT_S * 1000:.0f} ms"
        slowest = "over 2.5 s" if self.slowest_le == float("inf") else f"<= {self.slowest_le:g} s"
        return (f"   disk: {self.commits} commits, {self.slow} over {SLOW_COMMIT_S * 1000:.0f} ms"
                f" (>= {self.slow_s:.2f} s in them, {self.slow_s / elapsed:.1%} of the phase; slowest {slowest})")


def disk_stalls(before: Scrape | None, after: Scrape | None) -> DiskStalls | None:
    if before is None or after is None or not after.commits or set(before.commits) != set(after.commits):
        return None
    bounds = sorted(after.commits)
    counts = [after.commits[b] - before.commits[b] for b in bounds]  # cumulative, this phase
    if counts[-1] < 0:
        return None  # another process answered the second scrape (--workers)
    slow = slow_s = 0.0
    slowest = bounds[0]
    for lo, hi, below, upto in zip([0.0, *bounds[:-1]], bounds, [0.0, *counts[:-1]], counts, strict=True):
        if upto > below:
            slowest = hi
            if lo >= SLOW_COMMIT_S:
                slow += upto - below
                slow_s += (upto - below) * lo
    return DiskStalls(int(counts[-1]), int(slow), slow_s, slowest)


@contextlib.contextmanager
def no_client_gc():
    """The client's own garbage collector off during a phase: a full collection over
    its tens of thousands of live tasks and tokens paused this process for 50-150 ms
    every few seconds, and every request scheduled meanwhile counted the pause as
    server latency (it made the paced p99 of the minimal handler and the gateway alike
    ~100 ms). What the phase allocates is freed when it ends."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()
        gc.collect()


async def settle(pids: list[int], *, window_s: float = 0.3, quiet_share: float = 0.1,
                 timeout_s: float = 20.0) -> float:
    """Waits until every server and service together use under `quiet_share` of a core
    over `window_s` (or `timeout_s` has passed); returns the seconds waited. All of them
    run through the whole bench, and work left by one phase (the embedded counter
    catching up, the forwarder and the broker taking the spool) would otherwise be paid
    in the next phase, measuring another target."""
    began = time.monotonic()
    while time.monotonic() - began < timeout_s:
        before = sum(cpu_seconds(p) for p in pids)
        await asyncio.sleep(window_s)
        if sum(cpu_seconds(p) for p in pids) - before <= quiet_share * window_s:
            break
    return time.monotonic() - began


async def measure(name: str, base: str, pid: int, args: argparse.Namespace,
                  background: list[int]) -> tuple[Phase, Phase]:
    connector = aiohttp.TCPConnector(limit=args.concurrency, keepalive_timeout=300)
    async with aiohttp.ClientSession(connector=connector) as session:
        await closed_loop(session, base, tokens(min(500, args.requests)), args.concurrency)  # warm up
        toks = tokens(args.requests)
        waited = await settle(background)
        before = await scrape(session, base)  # starts the gateway's worst-lag window
        server0, client0, ticks = cpu_seconds(pid), own_cpu_seconds(), host_ticks()
        with no_client_gc():
            peak = await closed_loop(session, base, toks, args.concurrency)
        peak.steal = steal_share(ticks)
        answered = max(1, sum(peak.statuses.values()))
        peak.server_cpu_us = (cpu_seconds(pid) - server0) / answered * 1e6
        peak.client_cpu_us = (own_cpu_seconds() - client0) / answered * 1e6
        between = await scrape(session, base)
        peak.disk = disk_stalls(before, between)
        print(line(name, f"max c={args.concurrency}", peak,
                   f"   cpu/beacon server {peak.server_cpu_us:.0f} us, client {peak.client_cpu_us:.0f} us"
                   + lag_note(between) + (peak.disk.note(peak.elapsed) if peak.disk else "")), flush=True)
        target = max(1.0, peak.rate * args.paced_fraction)
        paced_tokens = tokens(max(1, int(target * args.paced_seconds)))
        waited += await settle(background)
        between = await scrape(session, base)  # what settling did is no phase's
        ticks, server0 = host_ticks(), cpu_seconds(pid)
        with no_client_gc():
            paced = await open_loop(session, base, paced_tokens, target)
        paced.steal = steal_share(ticks)
        server_s = cpu_seconds(pid) - server0
        paced.server_cpu_us = server_s / max(1, sum(paced.statuses.values())) * 1e6
        # the share of a core the server used: what sets its queueing, hence the p99
        after = await scrape(session, base)
        paced.disk = disk_stalls(between, after)
        print(line(name, f"paced {args.paced_fraction:.0%} {target:.0f}/s", paced,
                   f"   cpu/beacon server {paced.server_cpu_us:.0f} us, {server_s / paced.elapsed:.0%} of a core")
              + lag_note(after) + (paced.disk.note(paced.elapsed) if paced.disk else "")
              + f"   (waited {waited:.1f} s in all for the host to settle)", flush=True)
    return peak, paced


def summary(results: dict[str, list[tuple[Phase, Phase]]], fraction: float) -> None:
    print("\nsummary (best / median over rounds)")
    base = results.get("minimal", [])
    for name, runs in results.items():
        rates = [p.rate for p, _ in runs]
        p99s = [q.pct(0.99) for _, q in runs]
        p50s = [q.pct(0.5) for _, q in runs]
        cpu = statistics.median(p.server_cpu_us for p, _ in runs)
        paced_cpu = statistics.median(q.server_cpu_us for _, q in runs)
        text = (f"  {name:<14} max {max(rates):6.0f} / {statistics.median(rates):6.0f} /s"
                f"   server cpu/beacon {min(p.server_cpu_us for p, _ in runs):4.0f} / {cpu:4.0f} us"
                f"   paced {fraction:.0%}: p50 {min(p50s):6.2f} / {statistics.median(p50s):6.2f} ms"
                f"   p99 {min(p99s):6.2f} / {statistics.median(p99s):6.2f} ms"
                f"   server cpu/beacon paced {paced_cpu:4.0f} us"
                + (f" ({paced_cpu / cpu:.2f}x max)" if cpu else ""))  # no /proc: no CPU figures
        if name != "minimal" and len(base) == len(runs):
            ratios = [p.rate / b.rate for (p, _), (b, _) in zip(runs, base, strict=True)]
            text += f"   max/minimal (same round) {max(ratios):.2f} / {statistics.median(ratios):.2f}"
        print(text)
        timed = [q for _, q in runs if q.disk is not None]
        if timed:
            # the p99 with the disk's stalls set apart: the gateway's own part of it
            calm = [q.pct(0.99) for q in timed if not q.disk.slow]
            stalled = sum(q.disk.slow_s for q in timed) / sum(q.elapsed for q in timed)
            print(f"  {'':<14} paced phases with a commit over {SLOW_COMMIT_S * 1000:.0f} ms: {len(timed) - len(calm)}"
                  f" of {len(timed)} (>= {stalled:.1%} of their time in such commits)"
                  + (f"; p99 of the others {min(calm):.2f} / {statistics.median(calm):.2f} ms" if calm else ""))
    steals = [ph.steal for runs in results.values() for pair in runs for ph in pair if ph.steal == ph.steal]
    if steals:
        print(f"  host CPU steal per phase: median {statistics.median(steals):.0%}, worst {max(steals):.0%}"
              " (time the hypervisor gave to others: rounds with much of it are the host's figures)")


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    # 20,000: the minimal handler answers 5,000 in under half a second, too short a
    # window on a shared host (one scheduler hiccup moved its rate by a third)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--variants", default="memory,redis",
                        help="gateway variants: memory (spool only), redis (+ Redis dedup and counters), "
                             "kafka (+ Redis, forwarding to a Tansu broker: the production path)")
    parser.add_argument("--paced-seconds", type=float, default=5.0)
    parser.add_argument("--paced-fraction", type=float, default=0.5)
    parser.add_argument("--redis", default=None, help="use this ADGW_REDIS_URL instead of a private redis-server")
    parser.add_argument("--kafka", default=None, help="the kafka variant's ADGW_KAFKA_BOOTSTRAP instead of a private Tansu")
    parser.add_argument("--workers", type=int, default=1,
                        help="processes per server, the minimal handler's and the gateway's alike (adgw serve --workers)")
    args = parser.parse_args()
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]

    procs: list[subprocess.Popen] = []
    redis_service = kafka_service = None
    targets: dict[str, tuple[str, int]] = {}
    try:
        port = free_port()
        procs.append(subprocess.Popen([sys.executable, "-c", MINIMAL, str(port), str(args.workers)],
                                      start_new_session=True))
        wait_http(f"http://127.0.0.1:{port}/v1/b/x", procs[-1])
        targets["minimal"] = (f"http://127.0.0.1:{port}", procs[-1].pid)
        for variant in variants:
            redis_url = kafka = None
            if variant in ("redis", "kafka"):
                redis_url = args.redis
                if redis_url is None:
                    if redis_service is None:
                        from tests.support.services import start_redis

                        redis_service = start_redis()
                    redis_url = f"redis://127.0.0.1:{redis_service.port}/0"
            if variant == "kafka":
                kafka = args.kafka
                if kafka is None:
                    from tests.support.services import start_tansu

                    kafka_service = start_tansu()
                    kafka = f"127.0.0.1:{kafka_service.port}"
            elif variant not in ("memory", "redis"):
                raise SystemExit(f"unknown variant {variant!r}")
            port = free_port()
            spool = tempfile.mkdtemp(prefix=f"adgw-bench-spool-{variant}-")
            procs.append(start_adgw(port, spool, redis_url, kafka, args.workers))
            wait_http(f"http://127.0.0.1:{port}/healthz", procs[-1])
            targets[f"adgw {variant}"] = (f"http://127.0.0.1:{port}", procs[-1].pid)

        print(f"{args.requests} beacons per max phase, {args.concurrency} connections, loopback, client and "
              f"servers on this host ({os.cpu_count()} cpus), {args.workers} process(es) per server; "
              f"fsync per group commit; GET /v1/b/impression")
        p50, p99 = fsync_latency(tempfile.gettempdir())
        print(f"disk floor: append + fdatasync p50 {p50:.2f} ms, p99 {p99:.2f} ms (every 204 waits for one)")
        results: dict[str, list[tuple[Phase, Phase]]] = {name: [] for name in targets}
        background = [pid for _, pid in targets.values()] + [
            service.proc.pid for service in (redis_service, kafka_service) if service is not None and service.proc]
        for r in range(args.rounds):
            if args.rounds > 1:
                print(f"-- round {r + 1}/{args.rounds}")
            for name, (base, pid) in targets.items():
                results[name].append(await measure(name, base, pid, args, background))
        summary(results, args.paced_fraction)
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)  # its own session: the workers too
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
        for service in (redis_service, kafka_service):
            if service is not None:
                service.stop()
    return 0


def _run() -> int:
    try:
        import uvloop  # the client is cheaper on uvloop: more of the host left to the servers
    except ImportError:
        return asyncio.run(main())
    return uvloop.run(main())


if __name__ == "__main__":
    sys.exit(_run())
