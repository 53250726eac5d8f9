"""`adgw events consume` and `adgw events tail`: called by gateway/cli.py with the
validated settings (kafka_bootstrap, kafka_topic, redis_url, catalog) and its args
(group, limit, from_beginning)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from typing import Any

from beacons.consumer import run_consumer, tail

log = logging.getLogger("adgw.events")


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    return stop


async def main(action: str, settings: Any, args: Any) -> int:
    if not settings.kafka_bootstrap:
        print("adgw events: ADGW_KAFKA_BOOTSTRAP is not set (without Kafka, events stay in the spool "
              f"at {settings.spool_dir})", file=sys.stderr)
        return 2
    stop = _stop_on_signals()
    if action == "tail":
        limit = getattr(args, "limit", 0) or None
        await tail(settings.kafka_bootstrap, topic=settings.kafka_topic, limit=limit,
                   from_beginning=bool(getattr(args, "from_beginning", False)), stop=stop)
        return 0

    from decision.catalog import load_catalog
    from decision.errors import CatalogInvalid
    from store import open_store

    try:
        snapshot = await asyncio.to_thread(load_catalog, settings.catalog)
    except CatalogInvalid as exc:
        # pacing and delivery still count; frequency caps need the catalog's windows
        log.warning("catalog unavailable, frequency-cap counters off: %s", exc)
        snapshot = None
    store = open_store(settings.redis_url)
    if not settings.redis_url:
        log.warning("ADGW_REDIS_URL is not set: counting into process memory (lost on exit)")
    try:
        stats = await run_consumer(settings.kafka_bootstrap, store, topic=settings.kafka_topic,
                                   group_id=getattr(args, "group", "adgw-counters"),
                                   catalog=(lambda: snapshot) if snapshot is not None else None, stop=stop)
    finally:
        await store.close()
    log.info("consumer stopped: %s", stats)
    return 0
