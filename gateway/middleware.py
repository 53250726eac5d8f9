"""Request ids, timeouts, metrics and the mapping of errors to problem+json."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import time

from aiohttp import web

from gateway import metrics
from gateway.admin import admin_denied
from gateway.problems import from_exception, problem

log = logging.getLogger("adgw.http")
REQUEST_ID = "X-Request-Id"
REQUEST_ID_KEY: web.RequestKey[str] = web.RequestKey("request_id", str)


def _route_name(request: web.Request) -> str:
    info = request.match_info
    route = getattr(info, "route", None)
    resource = getattr(route, "resource", None)
    return resource.canonical if resource is not None else "unmatched"


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"})


def _request_ids():
    """Unique, cheap request ids: a random per-process prefix and a counter (the id only
    has to find a log line; it need not be unpredictable, so no CSPRNG per request)."""
    prefix = os.urandom(4).hex()
    for n in itertools.count(1):
        yield f"{prefix}{n:08x}"


def make_middlewares(timeout_s: float):
    """One middleware for every request (each layer costs a coroutine and a partial per
    request, a few microseconds of every beacon): request id, the admin token check for
    /admin/*, the timeout, metrics, problem+json for errors."""
    next_id = _request_ids().__next__
    children: dict[tuple[str, str, str], tuple] = {}
    in_flight = [0]
    # read at scrape time rather than a locked inc/dec per request
    metrics.IN_FLIGHT.set_function(lambda: in_flight[0])

    def observe(route: str, method: str, status: str, seconds: float) -> None:
        # labels() hashes and locks on every call; keep the children per label tuple
        child = children.get((route, method, status))
        if child is None:
            child = children[(route, method, status)] = (metrics.REQUESTS.labels(route, method, status),
                                                         metrics.LATENCY.labels(route, method, status))
        child[0].inc()
        child[1].observe(seconds)

    @web.middleware
    async def request_context(request: web.Request, handler):
        incoming = request.headers.get(REQUEST_ID, "")
        request_id = incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else next_id()
        request[REQUEST_ID_KEY] = request_id
        started = time.perf_counter()
        in_flight[0] += 1
        try:
            if request.path.startswith("/admin/") and (denied := admin_denied(request)) is not None:
                response = denied
            else:
                response = await _answer(request, handler, timeout_s)
        finally:
            in_flight[0] -= 1
        response.headers[REQUEST_ID] = request_id
        # a client chooses the method: bound the label set so it cannot grow our metrics
        method = request.method if request.method in _METHODS else "OTHER"
        observe(_route_name(request), method, str(response.status), time.perf_counter() - started)
        return response

    return [request_context]


async def _answer(request: web.Request, handler, timeout_s: float) -> web.StreamResponse:
    try:
        async with asyncio.timeout(timeout_s):
            return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            return exc
        if exc.status == 413:
            return problem(413, "Payload Too Large", "request body exceeds the size limit", kind="body-too-large")
        return problem(exc.status, exc.reason, exc.text if exc.text and not exc.text.startswith(str(exc.status)) else None,
                       headers={k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After")})
    except TimeoutError:
        log.warning("request %s %s timed out after %.1fs", request.method, request.path, timeout_s)
        return problem(503, "Timeout", f"request not answered within {timeout_s:g}s", kind="timeout",
                       headers={"Retry-After": "1"})
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        mapped = from_exception(exc)
        if mapped is not None:
            return mapped
        # A bug: log the traceback server-side, never send it to the client.
        log.exception("unhandled error in %s %s (request %s)", request.method, request.path, request.get(REQUEST_ID_KEY))
        return problem(500, "Internal Server Error", "the gateway failed; the request id identifies the log entry",
                       kind="internal", request_id=request.get(REQUEST_ID_KEY))
