"""HLS playlists as frozen values: a single-pass parser (RFC 8216 §4) and the renderers the
stitcher needs. Much faster than `m3u8.loads` because it models only what stitching reads
and keeps every other line verbatim (unknown tags pass through in order).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from ssai import vocabulary as v
from ssai.errors import PlaylistError

_ATTR = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')


def parse_attributes(text: str) -> dict[str, str]:
    """An attribute list (RFC 8216 §4.2) as a dict; quoted values keep no quotes."""
    out: dict[str, str] = {}
    for name, value in _ATTR.findall(text):
        if value[:1] == '"':
            value = value[1:-1]
        out[name] = value
    return out


def quote(value: str) -> str:
    """A quoted-string attribute value (RFC 8216 §4.2: no `"`, CR or LF inside)."""
    return '"' + value.replace('"', "'").replace("\r", " ").replace("\n", " ") + '"'


def format_pdt(epoch: float) -> str:
    """ISO 8601 with milliseconds and `Z` (RFC 8216 §4.3.2.6)."""
    millis = round(epoch * 1000)
    stamp = datetime.fromtimestamp(millis // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{millis % 1000:03d}Z"


def parse_pdt(text: str) -> float:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise PlaylistError(f"bad date-time {text!r}") from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def format_duration(seconds: float) -> str:
    text = f"{seconds:.6f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


@dataclass(frozen=True, slots=True)
class ByteRange:
    length: int
    offset: int

    def render(self) -> str:
        # Always with an explicit offset: after a stitched block the implicit one is wrong.
        return f"{self.length}@{self.offset}"


@dataclass(frozen=True, slots=True)
class Key:
    method: str
    uri: str | None = None
    iv: str | None = None
    keyformat: str | None = None
    attributes: str = "METHOD=NONE"

    @property
    def encrypted(self) -> bool:
        return self.method != v.METHOD_NONE

    def line(self, iv: str | None = None) -> str:
        if iv is None or self.iv is not None:
            return f"#{v.EXT_X_KEY}:{self.attributes}"
        return f"#{v.EXT_X_KEY}:{self.attributes},IV={iv}"


KEY_NONE = Key(v.METHOD_NONE)


@dataclass(frozen=True, slots=True)
class InitMap:
    uri: str
    byterange: ByteRange | None = None

    def line(self, uri: str) -> str:
        if self.byterange is None:
            return f"#{v.EXT_X_MAP}:URI={quote(uri)}"
        return f'#{v.EXT_X_MAP}:URI={quote(uri)},BYTERANGE="{self.byterange.render()}"'


@dataclass(frozen=True, slots=True)
class Segment:
    uri: str
    duration: float
    sequence: int  # media sequence number (RFC 8216 §6.2.2)
    discontinuity_sequence: int
    start: float  # seconds from the start of the playlist
    title: str = ""
    discontinuity: bool = False
    byterange: ByteRange | None = None
    keys: tuple[Key, ...] = ()  # the keys in effect (one per KEYFORMAT)
    key_tag: bool = False  # an EXT-X-KEY line stood before this segment
    init: InitMap | None = None
    map_tag: bool = False
    program_date_time: float | None = None  # epoch seconds, explicit or carried forward
    pdt_tag: bool = False
    gap: bool = False
    tags: tuple[str, ...] = ()  # every other line before the segment, verbatim and in order

    @property
    def end(self) -> float:
        return self.start + self.duration

    @property
    def encrypted(self) -> bool:
        return any(k.encrypted for k in self.keys)


@dataclass(frozen=True, slots=True)
class MediaPlaylist:
    target_duration: int
    segments: tuple[Segment, ...]
    media_sequence: int = 0
    discontinuity_sequence: int = 0
    version: int | None = None
    playlist_type: str | None = None  # VOD | EVENT
    endlist: bool = False
    independent_segments: bool = False
    i_frames_only: bool = False
    header_tags: tuple[str, ...] = ()  # EXT-X-START, EXT-X-SERVER-CONTROL, unknown tags
    trailing_tags: tuple[str, ...] = ()  # tags after the last segment

    @property
    def duration(self) -> float:
        return self.segments[-1].end if self.segments else 0.0

    @property
    def is_live(self) -> bool:
        return not self.endlist and self.playlist_type != "VOD"


@dataclass(frozen=True, slots=True)
class Variant:
    uri: str
    bandwidth: int
    attributes: tuple[tuple[str, str], ...]  # verbatim (name, raw value), in order
    average_bandwidth: int | None = None
    resolution: tuple[int, int] | None = None
    codecs: str | None = None
    frame_rate: float | None = None
    audio: str | None = None
    video: str | None = None
    subtitles: str | None = None
    closed_captions: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Rendition:
    type: str  # AUDIO | VIDEO | SUBTITLES | CLOSED-CAPTIONS
    group_id: str
    name: str
    attributes: tuple[tuple[str, str], ...]
    uri: str | None = None
    language: str | None = None
    default: bool = False
    autoselect: bool = False


@dataclass(frozen=True, slots=True)
class MultivariantPlaylist:
    variants: tuple[Variant, ...]
    renditions: tuple[Rendition, ...] = ()
    version: int | None = None
    independent_segments: bool = False
    tags: tuple[str, ...] = ()  # I-frame variants, session data/keys, unknown tags

    def group(self, type_: str, group_id: str | None) -> tuple[Rendition, ...]:
        return tuple(r for r in self.renditions if r.type == type_ and r.group_id == group_id)


def _attr_items(text: str) -> tuple[tuple[str, str], ...]:
    return tuple(_ATTR.findall(text))


def _unquote(value: str) -> str:
    return value[1:-1] if value[:1] == '"' else value


def _int(value: str, what: str, lineno: int) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        raise PlaylistError(f"{what} is not an integer: {value!r}", lineno) from None
    if number < 0:
        raise PlaylistError(f"{what} is negative: {value!r}", lineno)
    return number


def _float(value: str, what: str, lineno: int) -> float:
    try:
        number = float(value)
    except ValueError:
        raise PlaylistError(f"{what} is not a number: {value!r}", lineno) from None
    if not math.isfinite(number) or number < 0:
        raise PlaylistError(f"{what} is out of range: {value!r}", lineno)
    return number


def _byterange(value: str, default_offset: int, lineno: int) -> ByteRange:
    length, _, offset = value.strip().partition("@")
    return ByteRange(
        _int(length, "byte range length", lineno),
        _int(offset, "byte range offset", lineno) if offset else default_offset,
    )


def _lines(text: str) -> list[str]:
    if text[:1] == "\ufeff":
        text = text[1:]
    lines = text.splitlines()
    if not lines or lines[0].rstrip() != "#" + v.EXTM3U:
        raise PlaylistError("not an HLS playlist: the first line is not #EXTM3U", 1)
    return lines


def is_multivariant(text: str) -> bool:
    return "#" + v.EXT_X_STREAM_INF in text and "#" + v.EXTINF not in text


def parse(text: str) -> MediaPlaylist | MultivariantPlaylist:
    """Parse either kind of playlist (RFC 8216 §4.1: a playlist is one or the other)."""
    return parse_multivariant(text) if is_multivariant(text) else parse_media(text)


_HEADER_TAGS = frozenset(
    {
        v.EXT_X_TARGETDURATION,
        v.EXT_X_MEDIA_SEQUENCE,
        v.EXT_X_DISCONTINUITY_SEQUENCE,
        v.EXT_X_VERSION,
        v.EXT_X_PLAYLIST_TYPE,
        v.EXT_X_INDEPENDENT_SEGMENTS,
        v.EXT_X_I_FRAMES_ONLY,
        v.EXT_X_ENDLIST,
    }
)
# Unknown tags seen before the first media segment tag belong to the header when they are
# playlist-wide by definition (RFC 8216 §4.3.5, rfc8216bis §4.4.3).
_HEADER_PASSTHROUGH = frozenset({v.EXT_X_START, "EXT-X-SERVER-CONTROL", "EXT-X-PART-INF", "EXT-X-ALLOW-CACHE", "EXT-X-SKIP", "EXT-X-DEFINE"})


def parse_media(text: str) -> MediaPlaylist:
    """Parse a media playlist. Any text either parses or raises `PlaylistError`."""
    if not isinstance(text, str):
        raise PlaylistError("playlist text must be str")
    lines = _lines(text)
    target: int | None = None
    media_sequence = 0
    disc_sequence = 0
    version: int | None = None
    playlist_type: str | None = None
    endlist = independent = i_frames = False
    header: list[str] = []
    segments: list[Segment] = []
    append = segments.append

    # per-segment state (reset after each URI)
    duration: float | None = None
    title = ""
    disc = key_tag = map_tag = pdt_tag = gap = False
    byterange: ByteRange | None = None
    tags: list[str] = []
    # carried state
    keys: tuple[Key, ...] = ()
    init: InitMap | None = None
    pdt: float | None = None
    next_offset: dict[str, int] = {}
    seq_started = False
    sequence = 0
    disc_count = 0
    elapsed = 0.0

    for lineno, raw in enumerate(lines[1:], start=2):
        line = raw.strip()
        if not line:
            continue
        if line[0] != "#":
            if duration is None:
                raise PlaylistError(f"segment URI {line[:80]!r} without #EXTINF", lineno)
            if not seq_started:
                sequence, seq_started = media_sequence, True
            if disc:
                disc_count += 1
            if byterange is not None and byterange.offset < 0:
                byterange = ByteRange(byterange.length, next_offset.get(line, 0))
            if byterange is not None:
                next_offset[line] = byterange.offset + byterange.length
            append(
                Segment(
                    line, duration, sequence, disc_sequence + disc_count, elapsed, title, disc,
                    byterange, keys, key_tag, init, map_tag, pdt, pdt_tag, gap,
                    tuple(tags) if tags else (),
                )
            )  # fmt: skip
            sequence += 1
            elapsed += duration
            if pdt is not None:
                pdt += duration
            duration, title, byterange = None, "", None
            disc = key_tag = map_tag = pdt_tag = gap = False
            if tags:
                tags = []
            continue
        if line[:4] != "#EXT":
            continue  # a comment (RFC 8216 §4.1)
        name, _, value = line[1:].partition(":")
        if name == v.EXTINF:
            number, _, title = value.partition(",")
            duration = _float(number, "EXTINF duration", lineno)
        elif name == v.EXT_X_BYTERANGE:
            byterange = _byterange(value, -1, lineno)
        elif name == v.EXT_X_PROGRAM_DATE_TIME:
            try:
                pdt = parse_pdt(value)
            except PlaylistError:
                raise PlaylistError(f"bad {name} {value!r}", lineno) from None
            pdt_tag = True
        elif name == v.EXT_X_DISCONTINUITY:
            disc = True
        elif name == v.EXT_X_KEY:
            keys = _key(value, keys, lineno)
            key_tag = True
        elif name == v.EXT_X_MAP:
            attrs = parse_attributes(value)
            if "URI" not in attrs:
                raise PlaylistError("EXT-X-MAP without URI", lineno)
            br = attrs.get(v.BYTERANGE)
            init = InitMap(attrs["URI"], _byterange(br, 0, lineno) if br else None)
            map_tag = True
        elif name == v.EXT_X_GAP:
            gap = True
        elif name in _HEADER_TAGS:
            if name == v.EXT_X_TARGETDURATION:
                target = _int(value, name, lineno)
            elif name == v.EXT_X_MEDIA_SEQUENCE:
                media_sequence = _int(value, name, lineno)
            elif name == v.EXT_X_DISCONTINUITY_SEQUENCE:
                disc_sequence = _int(value, name, lineno)
            elif name == v.EXT_X_VERSION:
                version = _int(value, name, lineno)
            elif name == v.EXT_X_PLAYLIST_TYPE:
                playlist_type = value.strip().upper() or None
            elif name == v.EXT_X_INDEPENDENT_SEGMENTS:
                independent = True
            elif name == v.EXT_X_I_FRAMES_ONLY:
                i_frames = True
            else:
                endlist = True
        elif name == v.EXT_X_STREAM_INF or name == v.EXT_X_MEDIA:
            raise PlaylistError(f"{name} in a media playlist", lineno)
        elif name in _HEADER_PASSTHROUGH and not segments and not tags:
            header.append(line)
        else:
            tags.append(line)
    if duration is not None:
        raise PlaylistError("#EXTINF without a segment URI at the end of the playlist")
    if target is None:
        # Required by RFC 8216 §4.3.3.1; tolerated (as players do) when segments tell it.
        if not segments:
            raise PlaylistError("no #EXT-X-TARGETDURATION and no segments")
        target = math.ceil(max(s.duration for s in segments))
    return MediaPlaylist(
        target, tuple(segments), media_sequence, disc_sequence, version, playlist_type,
        endlist, independent, i_frames, tuple(header), tuple(tags),
    )  # fmt: skip


def _key(value: str, keys: tuple[Key, ...], lineno: int) -> tuple[Key, ...]:
    attrs = parse_attributes(value)
    method = attrs.get(v.METHOD)
    if not method:
        raise PlaylistError("EXT-X-KEY without METHOD", lineno)
    if method != v.METHOD_NONE and not attrs.get(v.URI):
        raise PlaylistError(f"EXT-X-KEY METHOD={method} without URI", lineno)
    key = Key(method, attrs.get(v.URI), attrs.get(v.IV), attrs.get(v.KEYFORMAT), value.strip())
    if method == v.METHOD_NONE:
        return ()
    # A new key replaces the one of the same KEYFORMAT (RFC 8216 §4.3.2.4).
    kept = tuple(k for k in keys if k.keyformat != key.keyformat)
    return (*kept, key)


def parse_multivariant(text: str) -> MultivariantPlaylist:
    if not isinstance(text, str):
        raise PlaylistError("playlist text must be str")
    lines = _lines(text)
    variants: list[Variant] = []
    renditions: list[Rendition] = []
    tags: list[str] = []
    version: int | None = None
    independent = False
    pending: tuple[str, tuple[tuple[str, str], ...], int] | None = None
    for lineno, raw in enumerate(lines[1:], start=2):
        line = raw.strip()
        if not line:
            continue
        if line[0] != "#":
            if pending is None:
                continue  # a URI outside EXT-X-STREAM-INF is not ours to keep
            variants.append(_variant(line, pending[1], pending[2]))
            pending = None
            continue
        if line[:4] != "#EXT":
            continue
        name, _, value = line[1:].partition(":")
        if name == v.EXT_X_STREAM_INF:
            pending = (name, _attr_items(value), lineno)
        elif name == v.EXT_X_MEDIA:
            renditions.append(_rendition(value, lineno))
        elif name == v.EXT_X_VERSION:
            version = _int(value, name, lineno)
        elif name == v.EXT_X_INDEPENDENT_SEGMENTS:
            independent = True
        elif name == v.EXTINF:
            raise PlaylistError("#EXTINF in a multivariant playlist", lineno)
        else:
            tags.append(line)
    if pending is not None:
        raise PlaylistError("EXT-X-STREAM-INF without a URI", pending[2])
    if not variants:
        raise PlaylistError("a multivariant playlist without variants")
    return MultivariantPlaylist(tuple(variants), tuple(renditions), version, independent, tuple(tags))


def _resolution(value: str | None, lineno: int) -> tuple[int, int] | None:
    if not value:
        return None
    width, _, height = value.lower().partition("x")
    return _int(width, "RESOLUTION width", lineno), _int(height, "RESOLUTION height", lineno)


def _variant(uri: str, items: tuple[tuple[str, str], ...], lineno: int) -> Variant:
    attrs = {k: _unquote(val) for k, val in items}
    if v.BANDWIDTH not in attrs:
        raise PlaylistError("EXT-X-STREAM-INF without BANDWIDTH", lineno)
    avg = attrs.get(v.AVERAGE_BANDWIDTH)
    rate = attrs.get(v.FRAME_RATE)
    return Variant(
        uri=uri,
        bandwidth=_int(attrs[v.BANDWIDTH], v.BANDWIDTH, lineno),
        attributes=items,
        average_bandwidth=_int(avg, v.AVERAGE_BANDWIDTH, lineno) if avg else None,
        resolution=_resolution(attrs.get(v.RESOLUTION), lineno),
        codecs=attrs.get(v.CODECS),
        frame_rate=_float(rate, v.FRAME_RATE, lineno) if rate else None,
        audio=attrs.get(v.AUDIO),
        video=attrs.get(v.VIDEO),
        subtitles=attrs.get(v.SUBTITLES),
        closed_captions=attrs.get(v.CLOSED_CAPTIONS),
    )


def _rendition(value: str, lineno: int) -> Rendition:
    items = _attr_items(value)
    attrs = {k: _unquote(val) for k, val in items}
    type_ = attrs.get(v.TYPE, "")
    if type_ not in v.MEDIA_TYPES or v.GROUP_ID not in attrs or v.NAME not in attrs:
        raise PlaylistError("EXT-X-MEDIA needs TYPE, GROUP-ID and NAME", lineno)
    return Rendition(
        type=type_,
        group_id=attrs[v.GROUP_ID],
        name=attrs[v.NAME],
        attributes=items,
        uri=attrs.get(v.URI),
        language=attrs.get(v.LANGUAGE),
        default=attrs.get(v.DEFAULT) == "YES",
        autoselect=attrs.get(v.AUTOSELECT) == "YES",
    )


def _render_attrs(items: tuple[tuple[str, str], ...], uri: str | None = None) -> str:
    parts = []
    for name, value in items:
        if name == v.URI and uri is not None:
            value = quote(uri)
        parts.append(f"{name}={value}")
    return ",".join(parts)


def render_multivariant(
    playlist: MultivariantPlaylist,
    variant_uri: Callable[[int, Variant], str],
    rendition_uri: Callable[[int, Rendition], str],
) -> str:
    """The multivariant playlist with every variant and rendition URI rewritten (the
    gateway points them at itself). I-frame playlists are dropped: their byte ranges
    would not match a stitched timeline."""
    out = ["#EXTM3U"]
    if playlist.version is not None:
        out.append(f"#{v.EXT_X_VERSION}:{playlist.version}")
    if playlist.independent_segments:
        out.append(f"#{v.EXT_X_INDEPENDENT_SEGMENTS}")
    for tag in playlist.tags:
        if not tag.startswith("#" + v.EXT_X_I_FRAME_STREAM_INF):
            out.append(tag)
    for index, rendition in enumerate(playlist.renditions):
        uri = rendition_uri(index, rendition) if rendition.uri else None
        out.append(f"#{v.EXT_X_MEDIA}:{_render_attrs(rendition.attributes, uri)}")
    for index, variant in enumerate(playlist.variants):
        out.append(f"#{v.EXT_X_STREAM_INF}:{_render_attrs(variant.attributes)}")
        out.append(variant_uri(index, variant))
    return "\n".join(out) + "\n"
