"""The one place domain errors become HTTP answers: RFC 9457 problem+json."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import orjson
from aiohttp import web

PROBLEM_TYPE = "https://adgw.dev/problems/"


def problem(status: int, title: str | None = None, detail: str | None = None, *,
            kind: str | None = None, headers: dict[str, str] | None = None, **extra: Any) -> web.Response:
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE + (kind or phrase.lower().replace(" ", "-")),
        "title": title or phrase,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    body.update({k: v for k, v in extra.items() if v is not None})
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/problem+json",
                        headers=headers)


def _kebab(name: str) -> str:
    return "".join("-" + c.lower() if c.isupper() and i else c.lower() for i, c in enumerate(name))


def from_exception(exc: BaseException) -> web.Response | None:
    """Map a domain error (anything with `status_hint`) to a problem; None if unknown."""
    status = getattr(exc, "status_hint", None)
    if not isinstance(status, int):
        return None
    extra: dict[str, Any] = {}
    for attr in ("param", "problems", "vast_error_code", "reason"):
        value = getattr(exc, attr, None)
        if value is not None:
            extra[attr] = value
    headers = None
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        headers = {"Retry-After": str(int(retry_after))}
    kind = getattr(exc, "kind", None) or _kebab(type(exc).__name__)
    detail = str(exc) or getattr(exc, "detail", None)
    return problem(status, type(exc).__name__, detail, kind=kind, headers=headers, **extra)
