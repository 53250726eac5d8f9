"""Golden files: the rendered 2-ad pod of each version, pretty-printed for review.

The comparison is on the pretty form (CDATA kept), so escaping, element order and every
value show in the diff. After an intended change, rewrite them with
`python -m tests.vast.test_golden` and review the diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from tests.vast import models
from vast import VERSIONS, render

GOLDEN = Path(__file__).parent / "golden"


def pretty(document: str) -> str:
    parser = etree.XMLParser(strip_cdata=False, remove_blank_text=True, resolve_entities=False)
    root = etree.fromstring(document.encode(), parser)
    return etree.tostring(root, pretty_print=True, encoding="unicode")


def golden_document(version: str) -> str:
    return render(models.pod_vast(version, 2), version)


def path_for(version: str) -> Path:
    return GOLDEN / f"pod-vast-{version}.xml"


@pytest.mark.parametrize("version", VERSIONS)
def test_rendered_pod_matches_golden_file(version):
    path = path_for(version)
    assert path.exists(), f"{path} missing: run python -m tests.vast.test_golden"
    assert pretty(golden_document(version)) == path.read_text()


@pytest.mark.conformance
@pytest.mark.parametrize("version", VERSIONS)
def test_golden_files_are_xsd_valid(schemas, version):
    assert schemas.errors(path_for(version).read_text(), version) == []


if __name__ == "__main__":
    GOLDEN.mkdir(exist_ok=True)
    for v in VERSIONS:
        path_for(v).write_text(pretty(golden_document(v)))
        print("wrote", path_for(v))
