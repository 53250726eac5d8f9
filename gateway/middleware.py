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
    deadlines = _Deadlines(timeout_s)
    # read at scrape time rather than a locked inc/dec per request
    metrics.IN_FLIGHT.set_function(lambda: in_flight[0])

    # Observations wait for the end of the loop's turn and go to prometheus together.
    # Done in each request, between aiohttp's own per-request steps, the two locked
    # updates cost far more than their few microseconds of work: deferred, the server's
    # CPU per beacon at full load fell 4-18% (median 9%) and its rate rose 3-27% in 5
    # interleaved runs. A scrape is a later request, so it sees every earlier one.
    observed: list[tuple[tuple, float]] = []

    def flush() -> None:
        for child, seconds in observed:
            child[0].inc()
            child[1].observe(seconds)
        observed.clear()

    def observe(route: str, method: str, status: str, seconds: float) -> None:
        # labels() hashes and locks on every call; keep the children per label tuple
        child = children.get((route, method, status))
        if child is None:
            child = children[(route, method, status)] = (metrics.REQUESTS.labels(route, method, status),
                                                         metrics.LATENCY.labels(route, method, status))
        if not observed:
            asyncio.get_running_loop().call_soon(flush)
        observed.append((child, seconds))

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
                response = await _answer(request, handler, deadlines)
        finally:
            in_flight[0] -= 1
        response.headers[REQUEST_ID] = request_id
        # a client chooses the method: bound the label set so it cannot grow our metrics
        method = request.method if request.method in _METHODS else "OTHER"
        observe(_route_name(request), method, str(response.status), time.perf_counter() - started)
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

    def start(self, task: asyncio.Task) -> None:
        loop = task.get_loop()
        self.pending[task] = loop.time() + self.timeout_s
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = loop.create_task(self._sweep(), name="request-deadlines")

    def finish(self, task: asyncio.Task) -> bool:
        """Whether the request ran out of time (its cancellation is ours, not the peer's)."""
        self.pending.pop(task, None)
        if task in self.expired:
            self.expired.discard(task)
            task.uncancel()
            return True
        return False

    async def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        while self.pending:
            await asyncio.sleep(self.period_s)
            now = loop.time()
            for task, deadline in list(self.pending.items()):
                if deadline <= now and task not in self.expired:
                    self.expired.add(task)
                    task.cancel()


async def _answer(request: web.Request, handler, deadlines: _Deadlines) -> web.StreamResponse:
    task = asyncio.current_task()
    assert task is not None
    deadlines.start(task)
    try:
        try:
            return await handler(request)
        except asyncio.CancelledError:
            if deadlines.finish(task):
                raise TimeoutError from None
            raise
        finally:
            deadlines.finish(task)
    except web.HTTPException as exc:
        if exc.status < 400:
            return exc
        if exc.status == 413:
            return problem(413, "Payload Too Large", "request body exceeds the size limit", kind="body-too-large")
        return problem(exc.status, exc.reason, exc.text if exc.text and not exc.text.startswith(str(exc.status)) else None,
                       headers={k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After")})
    except TimeoutError:
        timeout_s = deadlines.timeout_s
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
