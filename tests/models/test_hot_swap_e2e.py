"""A hot swap on the real server: 30 s of ad requests while a new model version is
published into the registry and activated through the admin API. Zero failed requests,
and the new version serves afterwards."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from tests.support.services import start_gateway

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
ADMIN = {"Authorization": "Bearer hot-swap-admin"}
LOAD_S = 30.0


def adgw(*args: str) -> list[str]:
    exe = Path(sys.executable).with_name("adgw")
    return [str(exe), *args] if exe.exists() else [sys.executable, "-m", "gateway.cli", *args]


async def test_hot_swap_under_load_fails_no_request(tmp_path):
    registry = tmp_path / "models"
    shutil.copytree(ROOT / "fixtures" / "models", registry, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    env = {"ADGW_MODELS_DIR": str(registry), "ADGW_ADMIN_TOKEN": ADMIN["Authorization"].split()[1],
           "ADGW_SPOOL_DIR": str(tmp_path / "spool")}
    gw = await asyncio.to_thread(start_gateway, env)
    base = f"http://127.0.0.1:{gw.port}"
    statuses: dict[int, int] = {}
    stop = asyncio.Event()
    try:
        async with aiohttp.ClientSession() as http:
            async def load(worker: int) -> None:
                n = 0
                while not stop.is_set():
                    n += 1
                    async with http.get(f"{base}/v1/vast?sid=swap-{worker}-{n}&dur=30&country=US") as resp:
                        await resp.read()
                        statuses[resp.status] = statuses.get(resp.status, 0) + 1

            workers = [asyncio.create_task(load(i)) for i in range(4)]
            started = time.monotonic()
            await asyncio.sleep(LOAD_S / 3)
            # publish completion@2 with the CLI (validates, copies atomically), then activate it
            published = await asyncio.to_thread(
                subprocess.run, adgw("models", "publish", str(registry / "completion" / "1"), "--name", "completion",
                                     "--version", "2"),
                cwd=ROOT, env={**env, "PATH": str(Path(sys.executable).parent)}, capture_output=True, text=True,
                timeout=120)
            assert published.returncode == 0, published.stdout + published.stderr
            async with http.post(f"{base}/admin/models/completion", json={"version": "2"}, headers=ADMIN) as resp:
                assert resp.status == 200, await resp.text()
            await asyncio.sleep(max(0.0, LOAD_S - (time.monotonic() - started)))
            stop.set()
            await asyncio.gather(*workers)
            async with http.get(f"{base}/admin/models", headers=ADMIN) as resp:
                models = (await resp.json())["models"]
    finally:
        stop.set()
        assert await asyncio.to_thread(gw.stop) == 0
    assert set(statuses) == {200}, statuses
    assert sum(statuses.values()) > 100, statuses
    assert models["completion"]["active"]["version"] == "2", models["completion"]
