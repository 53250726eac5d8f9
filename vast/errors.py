"""The package's error tree. Each error carries the VAST error code the edge reports
(VAST 4.2 §2.3.6.3) and whether retrying could help; only `gateway/` turns them into HTTP."""

from __future__ import annotations

from .vocabulary import ErrorCode


class VastError(Exception):
    """Base of every error this package raises on purpose."""

    code: int = ErrorCode.UNDEFINED
    retriable: bool = False

    def __init__(self, message: str = "", *, code: int | None = None) -> None:
        super().__init__(message or type(self).__name__)
        if code is not None:
            self.code = code


class VastXmlError(VastError):
    """Not well-formed XML, refused markup (DOCTYPE, entities) or over a size/depth cap."""

    code = ErrorCode.XML_PARSE


class VastSchemaError(VastError):
    """Well-formed XML that is not a usable VAST/VMAP document."""

    code = ErrorCode.SCHEMA_VALIDATION


class VastVersionUnsupported(VastError):
    """VAST 1 (`VideoAdServingTemplate`) or an unknown version number."""

    code = ErrorCode.VERSION_UNSUPPORTED


class FetchFailed(VastError):
    """The injected fetcher could not get the tag: unreachable, non-2xx, too large.
    VAST 4.2 code 301 covers "URI was either unavailable or reached a timeout"."""

    code = ErrorCode.WRAPPER_TIMEOUT
    retriable = True


class FetchRefused(VastError):
    """The fetcher refused the URL by policy (SSRF guard: private, loopback, link-local).
    Reported as 300 "general wrapper error": the URI is not unavailable, we declined it."""

    code = ErrorCode.WRAPPER_GENERAL


class WrapperError(VastError):
    """Wrapper resolution failed. `error_urls` are the Error URLs of the failed chain with
    [ERRORCODE] substituted; they have already been handed to the `fire` callback."""

    code = ErrorCode.WRAPPER_GENERAL

    def __init__(self, message: str = "", *, code: int | None = None,
                 error_urls: tuple[str, ...] = ()) -> None:
        super().__init__(message, code=code)
        self.error_urls = error_urls


class WrapperTimeout(WrapperError):
    code = ErrorCode.WRAPPER_TIMEOUT
    retriable = True


class WrapperLimitReached(WrapperError):
    code = ErrorCode.WRAPPER_LIMIT


class WrapperLoop(WrapperLimitReached):
    """A chain that comes back to a URL it already visited would only end at the depth
    limit; it is cut at once and reported with the same code, 302."""


class WrapperNoAds(WrapperError):
    code = ErrorCode.WRAPPER_NO_ADS
