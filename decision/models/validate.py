"""Checks a model version must pass before it is published or served: the file loads,
its sha256 matches the manifest, its inputs match the manifest (and features this
gateway can compute), golden inputs give the recorded outputs, and a 200-candidate
batch runs within the latency budget."""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from decision.models import features as F
from decision.models.manifest import (
    GOLDEN_FILE,
    MANIFEST_FILE,
    MODEL_FILE,
    Manifest,
    ManifestError,
    load_manifest,
    sha256_of,
)

SessionFactory = Callable[[Path], Any]
VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
GOLDEN_ATOL = 1e-4


def session_options():
    import onnxruntime as ort

    opts = ort.SessionOptions()
    # two shared cores serve the whole gateway: one thread per run, no busy-waiting
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
    opts.log_severity_level = 3
    return opts


def default_session_factory(model_path: Path) -> Any:
    import onnxruntime as ort

    return ort.InferenceSession(str(model_path), sess_options=session_options(),
                                providers=["CPUExecutionProvider"])


def extract(outputs: list[Any], manifest: Manifest) -> np.ndarray:
    """The probability vector from a run's first output (skl2onnx zipmap=False gives an
    [n, 2] tensor; column 1 is the positive class)."""
    arr = np.asarray(outputs[0])
    if arr.ndim == 2:
        arr = arr[:, manifest.output_column if manifest.output_column is not None else -1]
    return arr.astype(np.float64, copy=False).reshape(-1)


@dataclass
class Checked:
    model_dir: Path
    manifest: Manifest | None = None
    session: Any = None
    columns: np.ndarray | None = None  # indices into features.SCHEMA, None when identical
    problems: list[str] = field(default_factory=list)
    latency_ms: float | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def _model_dir(path: Path) -> Path:
    path = Path(path)
    return path.parent if path.is_file() else path


def columns_for(manifest: Manifest) -> tuple[np.ndarray | None, list[str]]:
    unknown = [f for f in manifest.features if f not in F.FEATURE_INDEX]
    if unknown:
        return None, [f"input feature {f!r} is not computed by this gateway" for f in unknown]
    if manifest.features == F.FEATURE_NAMES:
        return None, []
    return np.array([F.FEATURE_INDEX[f] for f in manifest.features], dtype=np.intp), []


def check_model(path: Path, *, session_factory: SessionFactory | None = None,
                latency_budget_ms: float | None = None, check_latency: bool = True,
                latency_quantile: float = 0.9) -> Checked:
    """Run every check; the returned `session` is ready to serve when `ok`.

    The latency gate compares the `latency_quantile` of 30 full-batch runs with the
    budget: p90 for `validate`/`publish`; serving loads gate on the median, which a busy
    neighbour on a shared core does not move, while a model that is too big still fails."""
    model_dir = _model_dir(path)
    result = Checked(model_dir)
    model_path = model_dir / MODEL_FILE
    if not model_dir.is_dir():
        result.problems.append(f"{model_dir}: not a directory")
        return result
    try:
        manifest = load_manifest(model_dir)
    except ManifestError as exc:
        result.problems.extend(exc.problems)
        manifest = None
    result.manifest = manifest
    if not model_path.is_file():
        result.problems.append(f"{MODEL_FILE} not found in {model_dir}")
        return result
    if manifest is None:
        return result
    actual = sha256_of(model_path)
    if actual != manifest.sha256:
        result.problems.append(f"sha256 mismatch: manifest says {manifest.sha256[:12]}…, file is {actual[:12]}…")
    columns, unknown = columns_for(manifest)
    result.problems.extend(unknown)
    result.columns = columns
    try:
        session = (session_factory or default_session_factory)(model_path)
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises assorted types for bad files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        result.problems.append(f"{MODEL_FILE} does not load: {first[:200]}")
        return result
    io_problems = _check_io(session, manifest)
    result.problems.extend(io_problems)
    if io_problems:
        return result
    result.problems.extend(_check_golden(session, manifest))
    if check_latency and not result.problems:
        budget = manifest.latency_budget_ms if latency_budget_ms is None else min(latency_budget_ms, manifest.latency_budget_ms)
        result.latency_ms = measure_latency(session, manifest, quantile=latency_quantile)
        if result.latency_ms > budget:
            result.problems.append(
                f"latency: p{round(latency_quantile * 100)} {result.latency_ms:.2f} ms for a "
                f"{manifest.latency_batch}-candidate batch exceeds the {budget:.2f} ms budget")
    if result.ok:
        result.session = session
    return result


def _check_io(session: Any, manifest: Manifest) -> list[str]:
    problems: list[str] = []
    inputs = list(session.get_inputs())
    if len(inputs) != 1:
        return [f"inputs: model has {len(inputs)} inputs ({', '.join(i.name for i in inputs)}), manifest describes one tensor {manifest.input_tensor!r}"]
    inp = inputs[0]
    if inp.name != manifest.input_tensor:
        problems.append(f"inputs: model input is {inp.name!r}, manifest says {manifest.input_tensor!r}")
    if inp.type != "tensor(float)":
        problems.append(f"inputs: model input type is {inp.type}, manifest says float32")
    shape = list(inp.shape or [])
    if len(shape) != 2:
        problems.append(f"inputs: model input has shape {shape}, expected [batch, {len(manifest.features)}]")
    elif isinstance(shape[1], int) and shape[1] != len(manifest.features):
        problems.append(f"inputs: model takes {shape[1]} features, manifest lists {len(manifest.features)}")
    outputs = [o.name for o in session.get_outputs()]
    if manifest.output_tensor not in outputs:
        problems.append(f"outputs: model has no output {manifest.output_tensor!r} (has {', '.join(outputs)})")
    return problems


def run(session: Any, manifest: Manifest, x: np.ndarray, run_options: Any = None) -> np.ndarray:
    outputs = session.run([manifest.output_tensor], {manifest.input_tensor: x}, run_options)
    return extract(outputs, manifest)


def _check_golden(session: Any, manifest: Manifest) -> list[str]:
    if not manifest.golden:
        return [f"golden: no golden cases in the manifest or {GOLDEN_FILE}"]
    x = np.array([case[0] for case in manifest.golden], dtype=np.float32)
    if x.shape[1] != len(manifest.features):
        return [f"golden: cases have {x.shape[1]} features, manifest lists {len(manifest.features)}"]
    try:
        got = run(session, manifest, x)
    except Exception as exc:  # noqa: BLE001
        return [f"golden: model fails on golden inputs: {str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__}"]
    want = np.array([case[1] for case in manifest.golden])
    if got.shape != want.shape:
        return [f"golden: model returned {got.shape[0]} outputs for {want.shape[0]} cases"]
    bad = np.flatnonzero(~(np.abs(got - want) <= GOLDEN_ATOL))
    problems = [f"golden: case {i} gives {got[i]:.6f}, recorded {want[i]:.6f}" for i in bad[:5]]
    if len(bad) > 5:
        problems.append(f"golden: {len(bad) - 5} more cases differ")
    if not problems and (np.any(got < 0) or np.any(got > 1)):
        problems.append("outputs: model returns values outside [0, 1]; expected probabilities")
    return problems


def latency_batch(manifest: Manifest) -> np.ndarray:
    rows = np.array([case[0] for case in manifest.golden] or [manifest.defaults], dtype=np.float32)
    reps = -(-manifest.latency_batch // rows.shape[0])
    return np.ascontiguousarray(np.tile(rows, (reps, 1))[: manifest.latency_batch])


def measure_latency(session: Any, manifest: Manifest, runs: int = 30, warmup: int = 3, quantile: float = 0.9) -> float:
    """The `quantile` of a full-batch run's milliseconds (after a warm-up)."""
    x = latency_batch(manifest)
    for _ in range(warmup):
        run(session, manifest, x)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        run(session, manifest, x)
        times.append((time.perf_counter() - t0) * 1000.0)
    return float(np.quantile(times, quantile))


def validate_model(path: Path | str, *, session_factory: SessionFactory | None = None,
                   latency_budget_ms: float | None = None) -> list[str]:
    """Every problem with the model version in `path` (a directory with model.onnx and
    manifest.json, or the model.onnx itself); empty when it may be served."""
    return check_model(Path(path), session_factory=session_factory, latency_budget_ms=latency_budget_ms).problems


def publish_model(path: Path | str, registry: Path | str, name: str, version: str, *,
                  session_factory: SessionFactory | None = None) -> list[str]:
    """Validate `path` and copy it into `<registry>/<name>/<version>/` atomically (a
    registry poll never sees half a version). The manifest's name and version are set to
    `name` and `version`."""
    problems = []
    for what, value in (("name", name), ("version", version)):
        if not VERSION_RE.match(value or ""):
            problems.append(f"{what} {value!r}: use letters, digits, '.', '_' or '-' (not starting with a dot)")
    target = Path(registry) / name / version
    if not problems and target.exists():
        problems.append(f"{name}/{version} already exists in {registry}; versions are immutable")
    checked = check_model(Path(path), session_factory=session_factory)
    problems.extend(checked.problems)
    if problems:
        return problems
    src = checked.model_dir
    tmp = target.parent / f".publishing-{version}-{os.getpid()}"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        shutil.copy2(src / MODEL_FILE, tmp / MODEL_FILE)
        if (src / GOLDEN_FILE).exists():
            shutil.copy2(src / GOLDEN_FILE, tmp / GOLDEN_FILE)
        doc = dict(checked.manifest.raw)  # type: ignore[union-attr]
        doc.update(name=name, version=version, published_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        (tmp / MANIFEST_FILE).write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
        os.rename(tmp, target)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        return [f"publish failed: {exc}"]
    return []
