"""Error tree of `beacons`; each error carries what the edge needs (`status_hint`,
`reason`, `retriable`, `retry_after`). Only `gateway/` maps them to HTTP."""

from __future__ import annotations


class BeaconError(Exception):
    status_hint = 400
    retriable = False
    retry_after: float | None = None

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail or reason


class Malformed(BeaconError):
    """The beacon request itself is malformed (unknown event, bad code, ...)."""


class TokenInvalid(BeaconError):
    """Forged, tampered, truncated, unknown key id or revoked key."""

    status_hint = 403


class TokenExpired(BeaconError):
    """A genuine token past its expiry; `claims` are the verified claims."""

    status_hint = 410

    def __init__(self, reason: str, detail: str = "", claims=None) -> None:
        super().__init__(reason, detail)
        self.claims = claims


class RateLimited(BeaconError):
    status_hint = 429
    retriable = True

    def __init__(self, scope: str, retry_after: float) -> None:
        super().__init__("rate_limited", f"too many beacons per {scope}")
        self.scope = scope
        self.retry_after = retry_after


class SpoolError(BeaconError):
    """The spool cannot make an event durable (disk error)."""

    status_hint = 503
    retriable = True
    retry_after = 1.0

    def __init__(self, detail: str) -> None:
        super().__init__("spool_unavailable", detail)


class SpoolFull(SpoolError):
    """The spool reached its size cap (Kafka has been away too long)."""

    retry_after = 5.0


class SpoolLocked(SpoolError):
    """Another process holds this spool directory."""
