"""The Dockerfile cannot be built here (no Docker engine on these machines), so check
what can be checked statically: stages, non-root user, health check, command, and that
every package and the fixtures are in the image."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_dockerfile_shape():
    text = (ROOT / "Dockerfile").read_text()
    assert text.count("FROM python:3.11-slim") == 2  # multi-stage, slim base
    assert "USER adgw" in text and "useradd" in text
    assert "HEALTHCHECK" in text and "/healthz" in text
    assert 'CMD ["adgw", "serve"]' in text
    for package in ("gateway", "vast", "ssai", "decision", "beacons", "store", "fixtures"):
        assert f"COPY {package} {package}" in text, package
    # configuration by environment only: no config file baked in
    assert "--config" not in text
