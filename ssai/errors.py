"""The `ssai` error tree. Each error carries what the edge needs: a status hint for the
gateway (which maps it to an HTTP answer) and whether a retry may help."""

from __future__ import annotations


class SsaiError(Exception):
    status = 502
    retriable = False


class PlaylistError(SsaiError):
    """The playlist text is not an HLS playlist we can use (RFC 8216 §4)."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message if line is None else f"line {line}: {message}")
        self.line = line


class MarkerError(SsaiError):
    """An ad marker is malformed (a CUE attribute, a DATERANGE, a cue offset)."""

    status = 400


class Scte35Error(MarkerError):
    """A SCTE-35 payload cannot be decoded."""


class PlanError(SsaiError):
    """The ads handed to the planner cannot fill the break (no variant, bad duration)."""

    status = 500


class SessionError(SsaiError):
    status = 404
