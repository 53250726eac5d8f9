"""Hardened XML loading for documents from third parties.

Entities are never expanded, nothing is fetched, no DTD is loaded, and a document that
carries a DOCTYPE at all is refused: VAST and VMAP never need one, and every XXE or
entity-expansion attack ("billion laughs") needs one. Size, depth and element count are
capped so a hostile tag cannot make the gateway spend memory or time.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from lxml import etree

from .errors import VastXmlError


@dataclass(frozen=True, slots=True)
class Limits:
    max_bytes: int = 2 << 20
    max_depth: int = 48
    max_elements: int = 50_000


DEFAULT_LIMITS = Limits()

_PARSER_OPTIONS = dict(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
    recover=False,
)


def _prescan(data: bytes) -> None:
    # Fast refusal before libxml2 sees the bytes; the docinfo check below still catches
    # encodings (UTF-16/32) in which these ASCII patterns do not appear.
    head = data[:4096].lstrip()
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise VastXmlError("DOCTYPE and entity declarations are refused")
    if not head:
        raise VastXmlError("empty document")


def load(data: bytes | str, limits: Limits = DEFAULT_LIMITS) -> etree._Element:
    """Parse `data` into an lxml element tree root, or raise `VastXmlError`."""
    if isinstance(data, str):
        data = data.encode("utf-8")
        if data.lstrip().startswith(b"<?xml"):
            # The declaration may name another encoding; the str was already decoded.
            end = data.find(b"?>")
            data = b'<?xml version="1.0" encoding="UTF-8"' + data[end:] if end > 0 else data
    if not isinstance(data, bytes | bytearray | memoryview):
        raise VastXmlError(f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) > limits.max_bytes:
        raise VastXmlError(f"document of {len(data)} bytes exceeds the {limits.max_bytes} cap")
    _prescan(data)
    try:
        root = _iterparse(data, limits, recover=False)
    except _NamespaceOnly:
        # Undeclared prefixes (typically `xsi:noNamespaceSchemaLocation` without xmlns:xsi)
        # are a common slip in ad server output that players accept; allow that, and only
        # that: the second pass must report nothing but namespace errors either.
        root = _iterparse(data, limits, recover=True)
    except (ValueError, LookupError, UnicodeError) as exc:  # bad encoding declarations
        raise VastXmlError(f"unreadable XML: {exc}") from None
    if root is None:
        raise VastXmlError("no root element")
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise VastXmlError("DOCTYPE is refused")
    return root


class _NamespaceOnly(Exception):
    pass


def _only_namespace_errors(log: etree._ListErrorLog) -> bool:
    return len(log) > 0 and all(e.domain_name == "NAMESPACE" for e in log)


def _iterparse(data: bytes, limits: Limits, *, recover: bool) -> etree._Element | None:
    depth = 0
    count = 0
    options = dict(_PARSER_OPTIONS, recover=recover)
    context = etree.iterparse(io.BytesIO(data), events=("start", "end"), **options)
    try:
        for event, _ in context:
            if event == "start":
                depth += 1
                count += 1
                if depth > limits.max_depth:
                    raise VastXmlError(f"element depth exceeds {limits.max_depth}")
                if count > limits.max_elements:
                    raise VastXmlError(f"more than {limits.max_elements} elements")
            else:
                depth -= 1
    except etree.XMLSyntaxError as exc:
        # The parser's own log: the exception's may carry entries of earlier parses.
        if not recover and _only_namespace_errors(context.error_log):
            raise _NamespaceOnly() from None
        raise VastXmlError(f"not well-formed XML: {exc}") from None
    if recover and not _only_namespace_errors(context.error_log):
        raise VastXmlError("not well-formed XML")
    return context.root


def local_name(tag: object) -> str | None:
    """`{ns}Name` -> `Name`; comments and other non-elements -> None."""
    if not isinstance(tag, str):
        return None
    return tag.rpartition("}")[2] if tag[:1] == "{" else tag


def namespace(tag: str) -> str | None:
    return tag[1:].partition("}")[0] if tag[:1] == "{" else None
