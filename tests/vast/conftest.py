from __future__ import annotations

from pathlib import Path

import pytest

from tests.vast import xsd


@pytest.fixture(scope="session")
def schemas(conformance_dir: Path) -> xsd.Schemas:
    return xsd.load(conformance_dir)


@pytest.fixture(scope="session")
def vast_samples(conformance_dir: Path) -> Path:
    return conformance_dir / "vast-samples"


@pytest.fixture(scope="session")
def chain_dir(vast_samples: Path) -> Path:
    return vast_samples / "authored-wrapper-chain"
