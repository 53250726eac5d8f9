"""`manifest.json`: what a model version needs to be served and watched.

```
{"name", "version", "owner", "created_at", "framework",
 "sha256": of model.onnx,
 "inputs": {"tensor": "features", "dtype": "float32", "features": [{"name", "type", "default", ...}]},
 "output": {"tensor": "probabilities", "column": 1, "target": "complete|click|viewable", "meaning"},
 "calibration": {"method": "piecewise_linear", "x": [...], "y": [...]} | null,
 "training": {"window": {"start", "end"}, "rows", "seed", "metrics": {...}},
 "reference_histogram": {"edges": [...], "fractions": [...]},
 "latency_budget_ms": {"batch": 200, "p90": 5.0},
 "golden": [{"features": [...], "output": p}, ...]  (or golden.json beside it)}
```
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

MODEL_FILE = "model.onnx"
MANIFEST_FILE = "manifest.json"
GOLDEN_FILE = "golden.json"
TARGETS = ("complete", "click", "viewable")
DEFAULT_LATENCY_BUDGET_MS = 5.0
DEFAULT_BATCH = 200


class ManifestError(ValueError):
    """The manifest is missing, unreadable or incomplete; `problems` lists why."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Manifest:
    name: str
    version: str
    sha256: str
    input_tensor: str
    features: tuple[str, ...]
    defaults: tuple[float, ...]
    output_tensor: str
    output_column: int | None
    target: str
    calibration_x: tuple[float, ...] = ()
    calibration_y: tuple[float, ...] = ()
    reference_edges: tuple[float, ...] = ()
    reference_fractions: tuple[float, ...] = ()
    latency_budget_ms: float = DEFAULT_LATENCY_BUDGET_MS
    latency_batch: int = DEFAULT_BATCH
    golden: tuple[tuple[tuple[float, ...], float], ...] = ()
    owner: str = ""
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"

    def calibrate(self, p: np.ndarray) -> np.ndarray:
        if not self.calibration_x:
            return p
        return np.interp(p, self.calibration_x, self.calibration_y)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _floats(values: Any, what: str, problems: list[str]) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in values)
    except (TypeError, ValueError):
        problems.append(f"manifest: {what} must be a list of numbers")
        return ()


def parse_manifest(doc: Any, golden_doc: Any = None) -> Manifest:
    """Validate a manifest document; raises `ManifestError` listing every problem."""
    problems: list[str] = []
    if not isinstance(doc, dict):
        raise ManifestError(["manifest: not a JSON object"])
    for key in ("name", "version", "sha256", "inputs", "output"):
        if key not in doc:
            problems.append(f"manifest: missing {key!r}")
    if problems:
        raise ManifestError(problems)
    inputs, output = doc["inputs"], doc["output"]
    feats: list[str] = []
    defaults: list[float] = []
    if not isinstance(inputs, dict) or not isinstance(inputs.get("features"), list) or not inputs["features"]:
        problems.append("manifest: inputs.features must be a non-empty list")
    else:
        for i, f in enumerate(inputs["features"]):
            if not isinstance(f, dict) or not isinstance(f.get("name"), str):
                problems.append(f"manifest: inputs.features[{i}] needs a name")
                continue
            if f.get("type", "float32") != "float32":
                problems.append(f"manifest: feature {f['name']!r} has type {f.get('type')!r}, expected float32")
            feats.append(f["name"])
            try:
                defaults.append(float(f.get("default", 0.0)))
            except (TypeError, ValueError):
                problems.append(f"manifest: feature {f['name']!r} default is not a number")
        if len(set(feats)) != len(feats):
            problems.append("manifest: duplicate feature names")
    if not isinstance(output, dict):
        problems.append("manifest: output must be an object")
        output = {}
    target = output.get("target")
    if target not in TARGETS:
        problems.append(f"manifest: output.target must be one of {', '.join(TARGETS)}, got {target!r}")
    cal = doc.get("calibration") or {}
    cal_x = _floats(cal.get("x", ()), "calibration.x", problems)
    cal_y = _floats(cal.get("y", ()), "calibration.y", problems)
    if len(cal_x) != len(cal_y) or (cal_x and any(b < a for a, b in zip(cal_x, cal_x[1:], strict=False))):
        problems.append("manifest: calibration x/y must have equal length and increasing x")
    ref = doc.get("reference_histogram") or {}
    edges = _floats(ref.get("edges", ()), "reference_histogram.edges", problems)
    fractions = _floats(ref.get("fractions", ()), "reference_histogram.fractions", problems)
    if edges and len(edges) != len(fractions) + 1:
        problems.append("manifest: reference_histogram needs len(edges) == len(fractions) + 1")
    golden_src = doc.get("golden") if doc.get("golden") is not None else (golden_doc or [])
    golden: list[tuple[tuple[float, ...], float]] = []
    if isinstance(golden_src, dict):
        golden_src = golden_src.get("cases", [])
    for i, case in enumerate(golden_src or []):
        try:
            golden.append((tuple(float(v) for v in case["features"]), float(case["output"])))
        except (KeyError, TypeError, ValueError):
            problems.append(f"golden: case {i} needs numeric 'features' and 'output'")
    lat = doc.get("latency_budget_ms") or {}
    try:
        budget = float(lat.get("p90", DEFAULT_LATENCY_BUDGET_MS))
        batch = int(lat.get("batch", DEFAULT_BATCH))
    except (TypeError, ValueError, AttributeError):
        problems.append("manifest: latency_budget_ms must be {batch, p90}")
        budget, batch = DEFAULT_LATENCY_BUDGET_MS, DEFAULT_BATCH
    column = output.get("column", 1)
    if problems:
        raise ManifestError(problems)
    return Manifest(
        name=str(doc["name"]), version=str(doc["version"]), sha256=str(doc["sha256"]).lower(),
        input_tensor=str(inputs.get("tensor", "features")), features=tuple(feats), defaults=tuple(defaults),
        output_tensor=str(output.get("tensor", "probabilities")),
        output_column=None if column is None else int(column), target=str(target),
        calibration_x=cal_x, calibration_y=cal_y, reference_edges=edges, reference_fractions=fractions,
        latency_budget_ms=budget, latency_batch=batch, golden=tuple(golden), owner=str(doc.get("owner", "")),
        raw=doc,
    )


def load_manifest(model_dir: Path) -> Manifest:
    path = model_dir / MANIFEST_FILE
    try:
        doc = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise ManifestError([f"{MANIFEST_FILE} not found in {model_dir}"]) from None
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ManifestError([f"{MANIFEST_FILE} unreadable: {exc}"]) from None
    golden_doc = None
    golden_path = model_dir / GOLDEN_FILE
    if isinstance(doc, dict) and doc.get("golden") is None and golden_path.exists():
        try:
            golden_doc = orjson.loads(golden_path.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise ManifestError([f"{GOLDEN_FILE} unreadable: {exc}"]) from None
    return parse_manifest(doc, golden_doc)


def histogram(values: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    counts, _ = np.histogram(np.clip(values, edges[0], edges[-1]), bins=np.asarray(edges))
    return counts


def psi(expected: Sequence[float], actual_counts: Sequence[float], eps: float = 1e-4) -> float:
    """Population stability index of observed counts against reference fractions."""
    e = np.asarray(expected, dtype=np.float64)
    a = np.asarray(actual_counts, dtype=np.float64)
    total = a.sum()
    if total <= 0 or e.size == 0:
        return 0.0
    a = np.maximum(a / total, eps)
    e = np.maximum(e / max(e.sum(), eps), eps)
    return float(np.sum((a - e) * np.log(a / e)))
