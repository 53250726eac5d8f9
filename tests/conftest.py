"""Session-wide real services. Tests that need Redis or Kafka take `redis_url` /
`kafka_bootstrap`; fixtures start private servers on free ports and fail loudly when a
binary is missing (they never skip)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.services import Service, start_redis, start_tansu

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CONFORMANCE = SHARED / "conformance"


@pytest.fixture(scope="session")
def redis_service() -> Iterator[Service]:
    svc = start_redis()
    yield svc
    svc.stop()


@pytest.fixture(scope="session")
def redis_url(redis_service: Service) -> str:
    return f"redis://127.0.0.1:{redis_service.port}/0"


@pytest.fixture(scope="session")
def kafka_service() -> Iterator[Service]:
    svc = start_tansu()
    yield svc
    svc.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_service: Service) -> str:
    return f"127.0.0.1:{kafka_service.port}"


@pytest.fixture(scope="session")
def conformance_dir() -> Path:
    """`../shared/conformance` (IAB XSDs and sample tags). Present in CI; outside CI the
    conformance tests fail with a message saying it did not run, they do not pass silently."""
    if not CONFORMANCE.is_dir():
        pytest.fail(
            f"conformance suite did not run: {CONFORMANCE} is absent (CI places ../shared beside "
            "the clone). Run with that folder present, or deselect with `-m 'not conformance'`.",
            pytrace=False,
        )
    return CONFORMANCE
