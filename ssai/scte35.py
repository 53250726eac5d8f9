"""SCTE-35 splice_info_section payloads (base64 or hex) decoded with threefive into a small
value. Bad payloads raise `Scte35Error`; threefive's own chatter is kept off the logs."""

from __future__ import annotations

import base64
import binascii
import contextlib
import io
import re
from dataclasses import dataclass

from ssai.errors import Scte35Error

# SCTE 35 2023 Table 23: segmentation_type_id values that open / close an avail.
SEGMENTATION_STARTS = frozenset({0x22, 0x30, 0x32, 0x34, 0x36, 0x38, 0x3A, 0x3C, 0x3E, 0x44, 0x46})
SEGMENTATION_ENDS = frozenset({0x23, 0x31, 0x33, 0x35, 0x37, 0x39, 0x3B, 0x3D, 0x3F, 0x45, 0x47})
_HEX = re.compile(r"^(0x|0X)?[0-9a-fA-F]+$")
_SPLICE_INSERT = 5
_TIME_SIGNAL = 6


@dataclass(frozen=True, slots=True)
class Segmentation:
    type_id: int
    event_id: int | None
    duration: float | None
    upid_type: int | None
    upid: str | None


@dataclass(frozen=True, slots=True)
class SpliceInfo:
    command_type: int  # 5 splice_insert, 6 time_signal, ...
    pts_time: float | None
    event_id: int | None  # splice_event_id (splice_insert)
    out_of_network: bool | None  # splice_insert's flag
    break_duration: float | None
    segmentations: tuple[Segmentation, ...] = ()

    @property
    def is_out(self) -> bool:
        if self.command_type == _SPLICE_INSERT:
            return bool(self.out_of_network)
        return any(s.type_id in SEGMENTATION_STARTS for s in self.segmentations)

    @property
    def is_in(self) -> bool:
        if self.command_type == _SPLICE_INSERT:
            return self.out_of_network is False
        return any(s.type_id in SEGMENTATION_ENDS for s in self.segmentations)

    @property
    def duration(self) -> float | None:
        if self.break_duration:
            return self.break_duration
        for seg in self.segmentations:
            if seg.type_id in SEGMENTATION_STARTS and seg.duration:
                return seg.duration
        return None

    @property
    def id(self) -> str | None:
        if self.event_id is not None:
            return str(self.event_id)
        for seg in self.segmentations:
            if seg.event_id is not None:
                return str(seg.event_id)
        return None

    @property
    def upid(self) -> str | None:
        return next((s.upid for s in self.segmentations if s.upid), None)


def payload_bytes(payload: str) -> bytes:
    text = payload.strip().strip('"')
    if not text:
        raise Scte35Error("empty SCTE-35 payload")
    if _HEX.match(text) and (text[:2].lower() == "0x" or len(text) % 2 == 0 and text[:2].lower() == "fc"):
        try:
            return bytes.fromhex(text[2:] if text[:2].lower() == "0x" else text)
        except ValueError as exc:
            raise Scte35Error(f"bad hex SCTE-35 payload: {exc}") from None
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Scte35Error(f"SCTE-35 payload is neither hex nor base64: {exc}") from None


def _int_or_none(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, str):
        return int(value, 16) if value.lower().startswith("0x") else int(value)
    return int(value)  # type: ignore[call-overload]


def _upid(value: object) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def decode(payload: str) -> SpliceInfo:
    """Decode a splice_info_section (SCTE 35 2023 §9.6) given as base64 or hex text."""
    data = payload_bytes(payload)
    if len(data) < 14 or data[0] != 0xFC:
        raise Scte35Error("not a splice_info_section (table_id is not 0xFC or it is too short)")
    import threefive  # local: threefive is heavy to import and only markers need it

    sink = io.StringIO()
    try:
        with contextlib.redirect_stderr(sink), contextlib.redirect_stdout(sink):
            cue = threefive.Cue(data)
            ok = cue.decode()
    except Exception as exc:  # threefive raises anything from a bad bit stream
        raise Scte35Error(f"undecodable SCTE-35 payload: {type(exc).__name__}") from None
    command = getattr(cue, "command", None)
    if not ok or command is None or getattr(command, "command_type", None) is None:
        raise Scte35Error("undecodable SCTE-35 payload")
    try:
        segmentations = tuple(
            Segmentation(
                type_id=int(d.segmentation_type_id),
                event_id=_int_or_none(getattr(d, "segmentation_event_id", None)),
                duration=getattr(d, "segmentation_duration", None) or None,
                upid_type=_int_or_none(getattr(d, "segmentation_upid_type", None)),
                upid=_upid(getattr(d, "segmentation_upid", None)),
            )
            for d in (cue.descriptors or ())
            if getattr(d, "segmentation_type_id", None) is not None
        )
        return SpliceInfo(
            command_type=int(command.command_type),
            pts_time=getattr(command, "pts_time", None),
            event_id=_int_or_none(getattr(command, "splice_event_id", None)),
            out_of_network=getattr(command, "out_of_network_indicator", None),
            break_duration=getattr(command, "break_duration", None) or None,
            segmentations=segmentations,
        )
    except (TypeError, ValueError) as exc:
        raise Scte35Error(f"undecodable SCTE-35 fields: {exc}") from None
