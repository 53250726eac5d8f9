"""Strict escaping for the string-template renderers: every value reaches the markup
through one of these functions, never raw.

- `cdata(url)`: URLs in a CDATA section, as the VAST spec writes them (VAST 4.2 §3.4: URIs
  "should be contained within a CDATA block"); a `]]>` inside is split across two sections.
  Macros such as `[ERRORCODE]` stay literal.
- `seal(document)`: run once over a finished document; percent-encodes the characters that
  XML cannot carry (C0 controls but TAB/LF, lone surrogates, U+FFFE/U+FFFF) and CR, which
  parsers would turn into LF. Only URLs can hold them at that point, and no URL may hold
  them unencoded anyway. One memchr-speed scan per character is far cheaper than a regex
  per URL, which was most of the render time.
- `text(s)`: character data; `&`, `<`, `>` as entities, CR as a character reference.
- `attr(s)`: attribute values in double quotes; also TAB/LF/CR as character references so
  attribute-value normalisation (XML 1.0 §3.3.3) gives back the same string.

In text and attributes, characters XML 1.0 §2.2 forbids become U+FFFD.
"""

from __future__ import annotations

import re

_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_TEXT_NEEDS = re.compile("[&<>\x00-\x08\x0b-\x1f\ud800-\udfff\ufffe\uffff]")
_ATTR_NEEDS = re.compile('[&<>"\x00-\x1f\ud800-\udfff\ufffe\uffff]')
_TEXT_SPECIAL = re.compile("[&<>\r]")
_ATTR_SPECIAL = re.compile('[&<>"\t\n\r]')

_TEXT_MAP = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"}
_ATTR_MAP = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;",
             "\t": "&#9;", "\n": "&#10;", "\r": "&#13;"}


def _text_sub(m: re.Match[str]) -> str:
    return _TEXT_MAP[m.group()]


def _attr_sub(m: re.Match[str]) -> str:
    return _ATTR_MAP[m.group()]


def _percent(m: re.Match[str]) -> str:
    return "".join(f"%{b:02X}" for b in m.group().encode("utf-8", "surrogatepass"))


# Attribute values repeat across documents (MIME types, registries, vendors, codecs); the
# memo keeps their escaped form. It stops growing at _MEMO_MAX entries, so unique values
# (ids) cost one dict miss each and memory stays bounded.
_MEMO_MAX = 4096
_ATTR_MEMO: dict[str, str] = {}
_CLOCK_MEMO: dict[float, str] = {}


def text(value: str) -> str:
    if _TEXT_NEEDS.search(value) is None:
        return value
    return _TEXT_SPECIAL.sub(_text_sub, _ILLEGAL.sub("\ufffd", value))


def attr(value: str) -> str:
    escaped = _ATTR_MEMO.get(value)
    if escaped is not None:
        return escaped
    if _ATTR_NEEDS.search(value) is None:
        escaped = value
    else:
        escaped = _ATTR_SPECIAL.sub(_attr_sub, _ILLEGAL.sub("\ufffd", value))
    if len(_ATTR_MEMO) < _MEMO_MAX:
        _ATTR_MEMO[value] = escaped
    return escaped


def cdata(url: str) -> str:
    """A URL as a CDATA section. Only `]]>` is handled here; characters XML cannot carry
    are percent-encoded for the whole document at once by `seal` (they can only come
    from URLs, since `text` and `attr` never emit them)."""
    if ">" in url:
        url = url.replace("]]>", "]]]]><![CDATA[>")
    return f"<![CDATA[{url}]]>"


# What XML 1.0 §2.2 forbids, plus CR, which parsers turn into LF (§2.11).
_UNSAFE_CHARS = tuple(chr(c) for c in range(32) if c not in (9, 10))
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\ud800-\udfff\ufffe\uffff]")


def seal(document: str) -> str:
    """Percent-encode, in place, any character XML cannot carry. Renderers call it once on
    their output: one memchr-speed scan per character class instead of a regex per URL."""
    dirty = any(map(document.__contains__, _UNSAFE_CHARS))
    if not dirty and not document.isascii():
        dirty = "\ufffe" in document or "\uffff" in document or _has_surrogate(document)
    return _UNSAFE.sub(_percent, document) if dirty else document


def _has_surrogate(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def bool_attr(value: bool) -> str:
    return "true" if value else "false"


def clock(seconds: float) -> str:
    """Seconds -> `HH:MM:SS.mmm` (xs:time as VAST uses it for Duration and offsets)."""
    memo = _CLOCK_MEMO.get(seconds)
    if memo is not None:
        return memo
    formatted = _clock(seconds)
    if len(_CLOCK_MEMO) < _MEMO_MAX:
        _CLOCK_MEMO[seconds] = formatted
    return formatted


def _clock(seconds: float) -> str:
    total_ms = round(seconds * 1000)
    if total_ms < 0:
        raise ValueError(f"negative time: {seconds}")
    hours, rem = divmod(total_ms, 3_600_000)
    minutes, rem = divmod(rem, 60_000)
    secs, ms = divmod(rem, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{ms:03d}"
