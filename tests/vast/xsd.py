"""XSD validation against the IAB schemas in ../shared/conformance (never copied here).

libxml2's xs:anyURI rejects `[` and `]`, which VAST macros put in every tracking URL (the
IAB's own authored samples fail on `[ERRORCODE]` for that reason), so the *validator's copy*
of a document has them percent-encoded (in text and attribute values); the document under
test is not touched.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

XSD_FILES = {
    "2.0": "vast_2.0.1.xsd",
    "3.0": "vast3_draft.xsd",
    "4.0": "vast4.xsd",
    "4.1": "vast_4.1.xsd",
    "4.2": "vast_4.2.xsd",
    "4.3": "vast_4.2.xsd",  # IAB: vast_4.3.xsd is "intentionally aligned with vast_4.2.xsd"
}
VIDEOSUITE_VAST = "http://www.iab.net/videosuite/vast"


@dataclass
class Schemas:
    vast: dict[str, etree.XMLSchema]
    vmap: etree.XMLSchema

    def errors(self, document: str | bytes, version: str) -> list[str]:
        """XSD errors of a rendered VAST document (empty when valid)."""
        tree = _for_validator(document)
        schema = self.vast[version]
        if schema.validate(tree):
            return []
        return [f"{e.line}: {e.message}" for e in schema.error_log]

    def vmap_errors(self, document: str | bytes) -> list[str]:
        """VMAP envelope against vmap.xsd, and each inline VAST against its own version's
        XSD. vmap.xsd wants `vast:VAST` in the namespace it imports VAST 3 under; players
        and servers put VAST in its own namespace, so the envelope check sees an empty VAST
        in that namespace where the inline one stood, and the inline one is checked alone."""
        tree = _for_validator(document)
        problems = []
        for data in tree.iter("{http://www.iab.net/videosuite/vmap}VASTAdData"):
            for inner in list(data):
                version = inner.get("version", "")
                problems += [f"inline VAST {version}: {m}" for m in
                             self.errors(etree.tostring(inner), version)]
                data.remove(inner)
            etree.SubElement(data, f"{{{VIDEOSUITE_VAST}}}VAST", version="3.0")
        if not self.vmap.validate(tree):
            problems += [f"{e.line}: {e.message}" for e in self.vmap.error_log]
        return problems


def load(conformance_dir: Path) -> Schemas:
    xsd = conformance_dir / "xsd"
    vast = {v: etree.XMLSchema(etree.parse(str(xsd / f))) for v, f in XSD_FILES.items()}
    return Schemas(vast, _vmap_schema(xsd))


def _vmap_schema(xsd: Path) -> etree.XMLSchema:
    # vmap.xsd imports vast3_draft.xsd for a namespace that schema does not declare; the
    # validator's shim is the same schema with that target namespace (in memory only).
    shim = etree.parse(str(xsd / "vast3_draft.xsd")).getroot()
    text = etree.tostring(shim, encoding="unicode").replace(
        "<xs:schema ", f'<xs:schema targetNamespace="{VIDEOSUITE_VAST}" xmlns="{VIDEOSUITE_VAST}" ', 1)
    shim_doc = etree.fromstring(text.encode())
    vmap = etree.parse(str(xsd / "vmap.xsd")).getroot()
    imp = vmap.find("{http://www.w3.org/2001/XMLSchema}import")
    vmap.remove(imp)
    resolver = _Resolver({"vast3-shim.xsd": etree.tostring(shim_doc)})
    parser = etree.XMLParser()
    parser.resolvers.add(resolver)
    new_import = etree.Element("{http://www.w3.org/2001/XMLSchema}import",
                               namespace=VIDEOSUITE_VAST, schemaLocation="shim://vast3-shim.xsd")
    vmap.insert(0, new_import)
    doc = etree.fromstring(etree.tostring(vmap), parser, base_url="shim://vmap.xsd")
    return etree.XMLSchema(doc)


class _Resolver(etree.Resolver):
    def __init__(self, files: dict[str, bytes]) -> None:
        super().__init__()
        self._files = files

    def resolve(self, url, pubid, context):
        name = url.rsplit("/", 1)[-1]
        if name in self._files:
            return self.resolve_string(self._files[name], context)
        return None


def _for_validator(document: str | bytes) -> etree._Element:
    data = document.encode() if isinstance(document, str) else document
    tree = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    tree = copy.deepcopy(tree)
    for el in tree.iter():
        if not isinstance(el.tag, str):
            continue
        if el.text and ("[" in el.text or "]" in el.text):
            el.text = _escape_brackets(el.text)
        for name, value in el.attrib.items():
            if "[" in value or "]" in value:
                el.set(name, _escape_brackets(value))
    return tree


def _escape_brackets(value: str) -> str:
    return value.replace("[", "%5B").replace("]", "%5D")
