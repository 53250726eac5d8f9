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
    in_flight = [0]
    deadlines = _Deadlines(timeout_s)
    # read at scrape time rather than a locked inc/dec per request
    metrics.IN_FLIGHT.set_function(lambda: in_flight[0])
    observe = metrics.HTTP_STATS.observe
    perf_counter = time.perf_counter
    current_task = asyncio.current_task

    @web.middleware
    async def request_context(request: web.Request, handler):
        incoming = request.headers.get(REQUEST_ID, "")
        request_id = incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else next_id()
        request[REQUEST_ID_KEY] = request_id
        started = perf_counter()
        in_flight[0] += 1
        try:
            if request.path.startswith("/admin/") and (denied := admin_denied(request)) is not None:
                response = denied
            else:
                # The timeout and the mapping of errors, inline rather than in a coroutine of
                # their own: each layer of coroutines is passed through at every resumption
                # of the handler. This and the plain-number request metrics took 2.5% off
                # the server's instructions per beacon (callgrind, 3,000 beacons, twice).
                task = current_task()
                deadlines.start(task, started)
                try:
                    response = await handler(request)
                except asyncio.CancelledError:
                    if not deadlines.finish(task):
                        raise  # the peer went away, or the server is stopping
                    response = _error_answer(request, TimeoutError(), deadlines.timeout_s)
                except Exception as exc:
                    response = _error_answer(request, exc, deadlines.timeout_s)
                finally:
                    deadlines.finish(task)
        finally:
            in_flight[0] -= 1
        response.headers[REQUEST_ID] = request_id
        # a client chooses the method: bound the label set so it cannot grow our metrics
        method = request.method if request.method in _METHODS else "OTHER"
        observe(_route_name(request), method, str(response.status), perf_counter() - started)
        return response

    return [request_context]


class _Deadlines:
    """The request timeout, enforced by one sweep rather than a timer per request:
    `asyncio.timeout` cost ~5 us of every request (a Timeout object, a timer handle in
    the loop's heap, its cancellation), a visible share of a beacon. Each request
    registers its task and deadline in a dict; a task sweeping every `timeout_s / 8`
    (at most 1 s) cancels the overdue ones, so a request is cut off between its
    timeout and an eighth (at most a second) past it."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.period_s = min(1.0, timeout_s / 8)
        self.pending: dict[asyncio.Task, float] = {}
        self.expired: set[asyncio.Task] = set()
        self._sweeper: asyncio.Task | None = None

    def start(self, task: asyncio.Task, now: float) -> None:
        """`now` on the `time.perf_counter` clock, which the sweep reads too."""
        self.pending[task] = now + self.timeout_s
        sweeper = self._sweeper
        if sweeper is None or sweeper.done():
            self._sweeper = task.get_loop().create_task(self._sweep(), name="request-deadlines")

    def finish(self, task: asyncio.Task) -> bool:
        """Whether the request ran out of time (its cancellation is ours, not the peer's)."""
        self.pending.pop(task, None)
        if task in self.expired:
            self.expired.discard(task)
            task.uncancel()
            return True
        return False

    async def _sweep(self) -> None:
        while self.pending:
            await asyncio.sleep(self.period_s)
            now = time.perf_counter()
            for task, deadline in list(self.pending.items()):
                if deadline <= now and task not in self.expired:
                    self.expired.add(task)
                    task.cancel()


def _error_answer(request: web.Request, exc: Exception, timeout_s: float) -> web.StreamResponse:
    """The answer to a request whose handler raised: problem+json, never a traceback."""
    if isinstance(exc, web.HTTPException):
        if exc.status < 400:
            return exc
        if exc.status == 413:
            return problem(413, "Payload Too Large", "request body exceeds the size limit", kind="body-too-large")
        return problem(exc.status, exc.reason, exc.text if exc.text and not exc.text.startswith(str(exc.status)) else None,
                       headers={k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After")})
    if isinstance(exc, TimeoutError):
        log.warning("request %s %s timed out after %.1fs", request.method, request.path, timeout_s)
        return problem(503, "Timeout", f"request not answered within {timeout_s:g}s", kind="timeout",
                       headers={"Retry-After": "1"})
    mapped = from_exception(exc)
    if mapped is not None:
        return mapped
    # A bug: log the traceback server-side, never send it to the client.
    log.error("unhandled error in %s %s (request %s)", request.method, request.path, request.get(REQUEST_ID_KEY),
              exc_info=exc)
    return problem(500, "Internal Server Error", "the gateway failed; the request id identifies the log entry",
                   kind="internal", request_id=request.get(REQUEST_ID_KEY))
