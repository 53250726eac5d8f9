"""parse(render(x)) == x for every model a version can carry, and IAB samples survive
parse -> render -> XSD validation."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from tests.vast import strategies
from tests.vast.test_parse import IAB_SAMPLES
from vast import VERSIONS, parse, render


@pytest.mark.parametrize("version", VERSIONS)
def test_parse_of_render_is_identity(version):
    @settings(max_examples=30, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(strategies.vast_models(version))
    def check(model):
        assert parse(render(model, version)) == model

    check()


SAMPLES_4X = [s for s in IAB_SAMPLES if s.startswith("VAST 4.")]


@pytest.mark.conformance
@pytest.mark.parametrize("sample", SAMPLES_4X)
def test_rendered_iab_4x_sample_revalidates(schemas, vast_samples, sample):
    vast = parse((vast_samples / sample).read_bytes())
    doc = render(vast)
    assert schemas.errors(doc, vast.version) == []
    assert parse(doc) == vast


@pytest.mark.conformance
@pytest.mark.parametrize("source, target", [("4.1", "4.2"), ("4.2", "4.3")])
def test_samples_rerendered_as_the_next_version_validate(schemas, vast_samples, source, target):
    # Pass-through parts (icons, companions) are kept as written, so this holds between
    # neighbouring versions whose schemas agree on them (4.0 -> 4.1 renamed Companion/@adSlotID).
    for sample in SAMPLES_4X:
        if sample.startswith(f"VAST {source} "):
            doc = render(parse((vast_samples / sample).read_bytes()), target)
            assert schemas.errors(doc, target) == [], sample
