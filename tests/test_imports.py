"""Guard tests: every module imports cleanly with warnings as errors, and the domain
packages never import the gateway or aiohttp's server side."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["gateway", "vast", "ssai", "decision", "beacons", "store"]
DOMAIN = ["vast", "ssai", "decision", "beacons", "store"]


def _modules() -> list[str]:
    names = []
    for pkg in PACKAGES:
        names.append(pkg)
        for info in pkgutil.walk_packages([str(ROOT / pkg)], prefix=f"{pkg}."):
            names.append(info.name)
    return sorted(names)


def test_every_module_imports_with_warnings_as_errors():
    script = "import importlib, sys\nfor name in sys.argv[1:]:\n    importlib.import_module(name)\n"
    result = subprocess.run([sys.executable, "-W", "error", "-c", script, *_modules()],
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]


FORBIDDEN = ("gateway", "aiohttp.web", "aiohttp.web_app", "aiohttp.web_request", "aiohttp.web_response")


@pytest.mark.parametrize("package", DOMAIN)
def test_domain_packages_do_not_import_the_gateway_or_aiohttp_server(package):
    offenders = []
    for path in (ROOT / package).rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for name in names:
                if any(name == f or name.startswith(f + ".") for f in FORBIDDEN):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {name}")
    assert not offenders, "\n".join(offenders)


def test_domain_packages_do_not_read_the_environment():
    offenders = [
        str(p.relative_to(ROOT)) for pkg in DOMAIN for p in (ROOT / pkg).rglob("*.py")
        if "os.environ" in p.read_text() or "os.getenv" in p.read_text()
    ]
    assert not offenders, offenders
