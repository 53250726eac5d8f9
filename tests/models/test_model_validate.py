"""validate_model / publish_model / `adgw models` on the shipped models and on broken
copies of them: a corrupt file, mismatched inputs, wrong golden outputs, a wrong
sha256, unknown features and a model slower than its latency budget."""

from __future__ import annotations

import io
import json
import os
import shutil

import pytest

from decision.models.cli import main
from decision.models.manifest import MANIFEST_FILE, MODEL_FILE
from decision.models.registry import Registry
from decision.models.validate import publish_model, validate_model
from tests.models.support import (
    NAMES,
    SHIPPED,
    WrappingFactory,
    copy_version,
    reseal,
    rewrite_manifest,
)


@pytest.mark.parametrize("name", NAMES)
def test_shipped_models_are_valid(name):
    assert validate_model(SHIPPED / name / "1") == []
    assert validate_model(SHIPPED / name / "1" / MODEL_FILE) == []


def test_shipped_manifests_say_what_the_registry_promises():
    for name in NAMES:
        doc = json.loads((SHIPPED / name / "1" / MANIFEST_FILE).read_text())
        assert doc["name"] == name and doc["version"] == "1" and doc["owner"]
        assert doc["inputs"]["features"] and all({"name", "type", "default"} <= set(f) for f in doc["inputs"]["features"])
        assert doc["output"]["target"] in ("complete", "click", "viewable") and doc["output"]["meaning"]
        assert doc["training"]["window"]["start"] < doc["training"]["window"]["end"]
        assert {"auc", "logloss", "calibration_ratio"} <= set(doc["training"]["metrics"])
        ref = doc["reference_histogram"]
        assert len(ref["edges"]) == len(ref["fractions"]) + 1 and abs(sum(ref["fractions"]) - 1) < 1e-3
        assert len(doc["golden"]) >= 8 and len(doc["sha256"]) == 64


def test_corrupt_model_file_is_reported(tmp_path):
    vdir = copy_version(tmp_path, "completion")
    (vdir / MODEL_FILE).write_bytes(b"\x08\x07garbage, not a protobuf" * 10)
    problems = validate_model(vdir)
    assert any(p.startswith("sha256 mismatch") for p in problems)
    assert any(p.startswith("model.onnx does not load") for p in problems)
    reseal(vdir)  # a corrupt file whose manifest was written for it still does not load
    assert [p for p in validate_model(vdir) if "does not load" in p]


def test_truncated_model_file_is_reported(tmp_path):
    vdir = copy_version(tmp_path, "click")
    blob = (vdir / MODEL_FILE).read_bytes()
    (vdir / MODEL_FILE).write_bytes(blob[: len(blob) // 2])
    reseal(vdir)
    assert any("does not load" in p for p in validate_model(vdir))


def test_model_whose_inputs_do_not_match_the_manifest(tmp_path):
    vdir = copy_version(tmp_path, "completion")
    shutil.copy(SHIPPED / "viewable" / "1" / MODEL_FILE, vdir / MODEL_FILE)  # takes 31 features, manifest lists 52
    reseal(vdir)
    problems = validate_model(vdir)
    assert "inputs: model takes 31 features, manifest lists 52" in problems


def test_input_tensor_name_mismatch(tmp_path):
    vdir = copy_version(tmp_path, "completion")
    doc = json.loads((vdir / MANIFEST_FILE).read_text())
    rewrite_manifest(vdir, inputs={**doc["inputs"], "tensor": "x"})
    assert "inputs: model input is 'features', manifest says 'x'" in validate_model(vdir)


def test_golden_outputs_must_match(tmp_path):
    vdir = copy_version(tmp_path, "click")
    doc = json.loads((vdir / MANIFEST_FILE).read_text())
    doc["golden"][3]["output"] += 0.05
    rewrite_manifest(vdir, golden=doc["golden"])
    problems = validate_model(vdir)
    assert len(problems) == 1 and problems[0].startswith("golden: case 3 gives")


def test_golden_cases_may_live_in_golden_json(tmp_path):
    vdir = copy_version(tmp_path, "viewable")
    doc = json.loads((vdir / MANIFEST_FILE).read_text())
    (vdir / "golden.json").write_text(json.dumps(doc.pop("golden")))
    (vdir / MANIFEST_FILE).write_text(json.dumps(doc))
    assert validate_model(vdir) == []
    (vdir / "golden.json").unlink()
    assert validate_model(vdir) == ["golden: no golden cases in the manifest or golden.json"]


def test_sha256_mismatch_alone(tmp_path):
    vdir = copy_version(tmp_path, "completion", sha256="0" * 64)
    problems = validate_model(vdir)
    assert len(problems) == 1 and problems[0].startswith("sha256 mismatch")


def test_feature_unknown_to_the_gateway(tmp_path):
    vdir = copy_version(tmp_path, "completion")
    doc = json.loads((vdir / MANIFEST_FILE).read_text())
    doc["inputs"]["features"][0]["name"] = "weather_is_sunny"
    rewrite_manifest(vdir, inputs=doc["inputs"])
    assert "input feature 'weather_is_sunny' is not computed by this gateway" in validate_model(vdir)


def test_missing_and_broken_manifests(tmp_path):
    vdir = copy_version(tmp_path, "completion")
    (vdir / MANIFEST_FILE).write_text("{not json")
    assert validate_model(vdir)[0].startswith("manifest.json unreadable")
    (vdir / MANIFEST_FILE).unlink()
    assert validate_model(vdir) == [f"manifest.json not found in {vdir}"]
    (vdir / MANIFEST_FILE).write_text(json.dumps({"name": "x", "version": "1", "sha256": "0" * 64,
                                                  "inputs": {"features": []}, "output": {"target": "ctr"}}))
    problems = validate_model(vdir)
    assert "manifest: inputs.features must be a non-empty list" in problems
    assert any(p.startswith("manifest: output.target must be one of") for p in problems)
    assert validate_model(tmp_path / "nope") == [f"{tmp_path / 'nope'}: not a directory"]


def test_latency_over_budget(tmp_path):
    vdir = copy_version(tmp_path, "completion", latency_budget_ms={"batch": 200, "p90": 2.0})
    factory = WrappingFactory("completion/1")
    original = factory.__call__

    def slow(path):
        session = original(path)
        session.delay_s = 0.004
        return session

    problems = validate_model(vdir, session_factory=slow)
    assert len(problems) == 1 and problems[0].startswith("latency: p90 ") and "exceeds the 2.00 ms budget" in problems[0]


def test_publish_copies_atomically_and_refuses_to_overwrite(tmp_path):
    registry = tmp_path / "registry"
    assert publish_model(SHIPPED / "completion" / "1", registry, "completion", "7") == []
    target = registry / "completion" / "7"
    doc = json.loads((target / MANIFEST_FILE).read_text())
    assert doc["name"] == "completion" and doc["version"] == "7" and "published_at" in doc
    assert validate_model(target) == []
    assert [e.version for e in Registry(registry).versions("completion")] == ["7"]
    assert not [p for p in (registry / "completion").iterdir() if p.name.startswith(".")]
    assert publish_model(SHIPPED / "completion" / "1", registry, "completion", "7") == [
        f"completion/7 already exists in {registry}; versions are immutable"]
    assert publish_model(SHIPPED / "completion" / "1", registry, "completion", "../x")[0].startswith("version '../x'")


def test_publish_refuses_an_invalid_model_and_leaves_no_trace(tmp_path):
    vdir = copy_version(tmp_path / "src", "completion")
    (vdir / MODEL_FILE).write_bytes(b"junk")
    registry = tmp_path / "registry"
    problems = publish_model(vdir, registry, "completion", "2")
    assert problems and any("does not load" in p for p in problems)
    assert not (registry / "completion" / "2").exists()
    assert not (registry / "completion").exists() or not list((registry / "completion").iterdir())


def test_cli_validate_and_publish(tmp_path):
    out, err = io.StringIO(), io.StringIO()
    assert main(["validate", str(SHIPPED / "click" / "1")], out=out, err=err) == 0
    assert "valid" in out.getvalue() and err.getvalue() == ""

    bad = copy_version(tmp_path / "src", "completion", sha256="f" * 64)
    shutil.copy(SHIPPED / "viewable" / "1" / MODEL_FILE, bad / MODEL_FILE)
    out, err = io.StringIO(), io.StringIO()
    assert main(["validate", str(bad)], out=out, err=err) == 1
    lines = err.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("sha256 mismatch") and lines[1] == "inputs: model takes 31 features, manifest lists 52"

    registry = tmp_path / "registry"
    out, err = io.StringIO(), io.StringIO()
    assert main(["publish", str(SHIPPED / "viewable" / "1"), "--name", "viewable", "--version", "3"],
                registry=registry, out=out, err=err) == 0
    assert (registry / "viewable" / "3" / MODEL_FILE).exists()
    other = tmp_path / "other"
    assert main(["publish", str(SHIPPED / "viewable" / "1"), "--name", "viewable", "--version", "3",
                 "--registry", str(other)], registry=registry, out=out, err=err) == 0
    assert (other / "viewable" / "3" / MODEL_FILE).exists()
    err = io.StringIO()
    assert main(["publish", str(bad), "--name", "completion", "--version", "2"], registry=registry,
                out=io.StringIO(), err=err) == 1
    assert len(err.getvalue().splitlines()) == 2
    assert main(["frobnicate"], out=io.StringIO(), err=io.StringIO()) == 2
    assert not os.path.exists(registry / "completion" / "2")
