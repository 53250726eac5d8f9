"""Builders for the model-serving tests: candidates, registries copied from the shipped
models, and session wrappers injected through `session_factory` (slow, failing)."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from decision.models.manifest import MANIFEST_FILE, MODEL_FILE, sha256_of
from decision.models.serving import ModelScorer, ServingSettings
from decision.models.validate import default_session_factory
from decision.pod import Creative
from decision.request import AdRequest

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "fixtures" / "models"
NAMES = ("completion", "click", "viewable")


@dataclass(frozen=True)
class LineItem:
    id: str
    tier: str = "standard"
    goal: str = "CPM"
    prior_completion: float = 0.9
    prior_ctr: float = 0.002


@dataclass(frozen=True)
class Advertiser:
    id: str
    iab_category: str


@dataclass(frozen=True)
class Candidate:
    line_item: LineItem
    creative: Creative
    advertiser: Advertiser


def candidates(n: int = 200, prefix: str = "c") -> list[Candidate]:
    cats = ("IAB2", "IAB8", "IAB22", "IAB19", "IAB1-6", "IAB7")
    tiers = ("standard", "programmatic", "sponsorship", "house")
    out = []
    for i in range(n):
        cat = cats[i % len(cats)]
        cr = Creative(id=f"{prefix}{i}", duration_s=(15.0, 30.0, 60.0, 6.0)[i % 4], advertiser_domain=f"a{i % 7}.example",
                      iab_category=cat, click_through="https://example.com/click" if i % 2 else None)
        li = LineItem(f"li-{prefix}{i}", tier=tiers[i % 4], goal=("CPM", "CPCV")[i % 2])
        out.append(Candidate(li, cr, Advertiser(f"a{i % 7}", cat)))
    return out


def request(sid: str = "sess-1", **kw: Any) -> AdRequest:
    base: dict[str, Any] = {"genre": "sports", "device_type": "ctv", "ifa": f"ifa-{sid}", "ip": "203.0.113.7",
                            "cid": "show-42"}
    base.update(kw)
    return AdRequest(sid=sid, **base)


def copy_version(registry: Path, name: str, version: str = "1", *, src: Path = SHIPPED, src_version: str = "1",
                 **manifest_changes: Any) -> Path:
    """Copy a shipped model version into `registry` as `name/version`, applying manifest
    changes (the sha256 stays right unless the model file is replaced afterwards)."""
    dst = registry / name / version
    shutil.copytree(src / name / src_version, dst)
    doc = orjson.loads((dst / MANIFEST_FILE).read_bytes())
    doc.update(version=version, **manifest_changes)
    (dst / MANIFEST_FILE).write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    return dst


def registry_with_shipped(registry: Path, names: tuple[str, ...] = NAMES) -> Path:
    for name in names:
        copy_version(registry, name)
    return registry


def halved(registry: Path, name: str = "completion", version: str = "2") -> Path:
    """A distinguishable second version: same network, calibration map halving outputs."""
    return copy_version(registry, name, version, calibration={"method": "piecewise_linear", "x": [0.0, 1.0], "y": [0.0, 0.5]})


def rewrite_manifest(vdir: Path, **changes: Any) -> None:
    doc = orjson.loads((vdir / MANIFEST_FILE).read_bytes())
    doc.update(changes)
    (vdir / MANIFEST_FILE).write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))


def reseal(vdir: Path) -> None:
    """Record the current model file's sha256 in the manifest."""
    rewrite_manifest(vdir, sha256=sha256_of(vdir / MODEL_FILE))


class WrappedSession:
    """An onnxruntime session with switchable misbehaviour: `delay_s` sleeps in `run`,
    `fail` raises. Off while loading and validating; tests switch it on."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.delay_s = 0.0
        self.fail = False
        self.calls = 0

    def get_inputs(self):
        return self.inner.get_inputs()

    def get_outputs(self):
        return self.inner.get_outputs()

    def run(self, output_names, input_feed, run_options=None):
        self.calls += 1
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.fail:
            raise RuntimeError("injected model failure")
        return self.inner.run(output_names, input_feed, run_options)


class WrappingFactory:
    """`session_factory` wrapping the sessions of chosen versions (`"name/version"`)."""

    def __init__(self, *targets: str) -> None:
        self.targets = set(targets)
        self.sessions: dict[str, WrappedSession] = {}

    def __call__(self, model_path: Path) -> Any:
        session = default_session_factory(model_path)
        key = f"{model_path.parent.parent.name}/{model_path.parent.name}"
        if key in self.targets:
            session = self.sessions[key] = WrappedSession(session)
        return session


def settings(**kw: Any) -> ServingSettings:
    """Test settings: no poll, no shadow, and timeouts generous enough that two busy
    shared cores never push a healthy model into a fallback (tests about deadlines set
    their own)."""
    base: dict[str, Any] = {"poll_interval_s": None, "shadow_sample": 0.0, "model_timeout_s": 0.25,
                            "default_budget_s": 1.0, "hydration_timeout_s": 0.25}
    base.update(kw)
    return ServingSettings(**base)


async def started(registry: Path, **kw: Any) -> ModelScorer:
    s = kw.pop("settings", None) or settings()
    scorer = ModelScorer(registry, settings=s, **kw)
    await scorer.start()
    return scorer
