"""Stopping a background task for sure.

One `task.cancel()` is not enough for a task that awaits redis-py on Python 3.11.
Every redis-py command sends through `asyncio.wait_for`. On 3.11, `wait_for` swallows a
cancellation that arrives in the same turn of the loop in which its inner send ends
(CPython gh-86296, fixed in 3.12).
- Measured here: 22-40% of the cancellations of a task looping on redis-py commands
  were lost, and with both cores busy it took up to ~60 tries in a row to stop one.
- A `while True` loop cancelled that way runs on forever. It held `adgw serve`'s
  shutdown after SIGTERM: the embedded event counter ignored its one cancellation and
  went on counting and idling, and the cleanup waited for it.
"""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger("adgw.tasks")


async def cancel_and_wait(task: asyncio.Task, *, again_after_s: float = 0.01) -> BaseException | None:
    """Cancel `task` and wait until it has ended, cancelling it again every
    `again_after_s` while it runs on. Returns the exception it had ended with, if any
    other than its cancellation, after logging it: a background loop that died early
    is a bug to see, not a reason to fail the shutdown."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=again_after_s)
    if task.cancelled() or (exc := task.exception()) is None:
        return None
    log.error("background task %s had failed", task.get_name(), exc_info=exc)
    return exc
