"""Beacon intake throughput and latency over loopback: the real `adgw serve` (subprocess)
beside a minimal aiohttp handler answering 204, driven by the same aiohttp client in the
same run. Prints figures; asserts nothing.

    .venv/bin/python bench/beacons.py [--requests 20000] [--concurrency 64] [--redis URL] [--kafka HOST:PORT]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from beacons.tokens import KeyRing, TokenClaims, TokenSigner, device_ref  # noqa: E402

KEYS = "b1:bench-secret-0123456789abcdef"
MINIMAL = """
import sys, uvloop
from aiohttp import web
async def ok(request):
    return web.Response(status=204)
app = web.Application()
app.router.add_get("/v1/b/{event}", ok)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None,
            loop=uvloop.new_event_loop())
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


# the same app `adgw serve` builds, with the beacon routes added: used only while the app
# factory does not register gateway.routes.beacons yet
UNREGISTERED = """
import sys, uvloop
from aiohttp import web
from gateway.app import create_app
from gateway.config import load_settings
from gateway.routes import MODULES, beacons
settings = load_settings(overrides={"host": "127.0.0.1", "port": sys.argv[1]})
app = create_app(settings)
if beacons not in MODULES:
    beacons.setup(app)
web.run_app(app, host="127.0.0.1", port=settings.port, print=None, access_log=None,
            loop=uvloop.new_event_loop())
"""


def start_adgw(port: int, spool: str, redis: str | None, kafka: str | None,
               unregistered: bool = False) -> subprocess.Popen:
    adgw = Path(sys.executable).with_name("adgw")
    argv = [str(adgw)] if adgw.exists() else [sys.executable, "-m", "gateway.cli"]
    if unregistered:
        argv = [sys.executable, "-c", UNREGISTERED, str(port)]
    env = {**os.environ, "ADGW_BEACON_KEYS": KEYS, "ADGW_SPOOL_DIR": spool, "ADGW_DEMO": "0",
           "ADGW_TRUSTED_PROXIES": "127.0.0.1", "ADGW_PUBLIC_URL": f"http://127.0.0.1:{port}",
           "ADGW_LOG_LEVEL": "warning"}
    if redis:
        env["ADGW_REDIS_URL"] = redis
    if kafka:
        env["ADGW_KAFKA_BOOTSTRAP"] = kafka
    if not unregistered:
        argv += ["serve", "--host", "127.0.0.1", "--port", str(port)]
    return subprocess.Popen(argv, env={**env, "PYTHONPATH": str(ROOT)}, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=None, start_new_session=True)


def tokens(n: int) -> list[str]:
    signer = TokenSigner(KeyRing.parse(KEYS))
    now = time.time()
    run = os.urandom(4).hex()
    out = []
    for i in range(n):
        out.append(signer.sign(TokenClaims(
            imp_id=f"imp-{run}-{i}", session_id=f"s-{run}-{i // 4}", pod_id=f"p-{i // 4}", pod_pos=i % 4 + 1,
            line_item_id=f"li-{i % 8}", campaign_id="c-1", advertiser_id="a-1", creative_id=f"cr-{i % 5}",
            price_micros=20_000_000, expires_at=int(now + 3600), start_ms=int(now * 1000), duration_ms=15_000,
            cid="show", channel="news", genre="drama", device_type="ctv", device_ref=device_ref(f"d{i}"))))
    return out


async def drive(base: str, toks: list[str], concurrency: int) -> tuple[float, list[float], dict[int, int]]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue = iter(enumerate(toks))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        async def worker() -> None:
            for i, tok in queue:
                headers = {"X-Forwarded-For": f"10.{i % 250}.{(i // 250) % 250}.{i % 200 + 1}",
                           "User-Agent": "Roku/DVP-12.0"}
                t0 = time.perf_counter()
                async with session.get(f"{base}/v1/b/impression?t={tok}&ts=[TIMESTAMP]", headers=headers) as r:
                    await r.read()
                latencies.append(time.perf_counter() - t0)
                statuses[r.status] = statuses.get(r.status, 0) + 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return elapsed, sorted(latencies), statuses


def pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


def report(name: str, elapsed: float, lat: list[float], statuses: dict[int, int]) -> None:
    ok = statuses.get(204, 0)
    print(f"{name:<28} {ok / elapsed:>10.0f} accepted/s   p50 {pct(lat, 0.5):6.2f} ms   "
          f"p99 {pct(lat, 0.99):6.2f} ms   statuses {dict(sorted(statuses.items()))}")


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--redis", default=None, help="ADGW_REDIS_URL for the gateway (default: memory)")
    parser.add_argument("--kafka", default=None, help="ADGW_KAFKA_BOOTSTRAP (default: spool only)")
    args = parser.parse_args()

    toks = tokens(args.requests)
    warm = tokens(500)
    procs: list[subprocess.Popen] = []
    try:
        mport = free_port()
        procs.append(subprocess.Popen([sys.executable, "-c", MINIMAL, str(mport)], start_new_session=True))
        wait_http(f"http://127.0.0.1:{mport}/v1/b/x", procs[-1])
        gport = free_port()
        spool = tempfile.mkdtemp(prefix="adgw-bench-spool-")
        procs.append(start_adgw(gport, spool, args.redis, args.kafka))
        wait_http(f"http://127.0.0.1:{gport}/healthz", procs[-1])
        probe = urllib.request.Request(f"http://127.0.0.1:{gport}/v1/b/impression?t={warm[0]}")
        how = "adgw serve"
        try:
            urllib.request.urlopen(probe, timeout=5)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                how = "create_app + beacon routes (adgw serve lacks /v1/b)"
                procs.pop().send_signal(signal.SIGTERM)
                procs.append(start_adgw(gport, spool + "-2", args.redis, args.kafka, unregistered=True))
                wait_http(f"http://127.0.0.1:{gport}/healthz", procs[-1])
        print(f"server: {how}")
        print(f"{args.requests} beacons, {args.concurrency} connections, loopback, 2 processes "
              f"(client + server); gateway: {'redis' if args.redis else 'memory'} dedup, "
              f"{'kafka' if args.kafka else 'spool-only'}, fsync per group commit")
        await drive(f"http://127.0.0.1:{mport}", warm, args.concurrency)
        report("minimal aiohttp 204", *await drive(f"http://127.0.0.1:{mport}", toks, args.concurrency))
        await drive(f"http://127.0.0.1:{gport}", warm[1:], args.concurrency)
        report("adgw GET /v1/b/impression", *await drive(f"http://127.0.0.1:{gport}", toks, args.concurrency))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
