"""The beacon pipeline assembled from typed pieces: signer, spool, intake and (when
Kafka is configured) the forwarder. The gateway opens one per process in a
`cleanup_ctx`; tests and the benchmark use it the same way."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from beacons.forwarder import Forwarder
from beacons.intake import BeaconIntake, IntakeConfig
from beacons.spool import ProcessLoad, Spool
from beacons.tokens import KeyRing, TokenSigner
from store import Store


def default_gateway_id() -> str:
    return f"{socket.gethostname()[:64]}:{os.getpid()}"


class BeaconPipeline:
    def __init__(self, signer: TokenSigner, spool: Spool, intake: BeaconIntake,
                 forwarder: Forwarder | None) -> None:
        self.signer = signer
        self.spool = spool
        self.intake = intake
        self.forwarder = forwarder

    @classmethod
    async def open(cls, store: Store, *, spool_dir: str | os.PathLike[str],
                   keys: Sequence[tuple[str, bytes | str]] = (), revoked: Sequence[str] = (),
                   spool_max_bytes: int = 1 << 30, kafka_bootstrap: str | None = None,
                   topic: str = "ad-events", invalid_topic: str = "ad-events-invalid",
                   intake_config: IntakeConfig | None = None, grace_s: float = 6 * 3600,
                   signer: TokenSigner | None = None,
                   geo: Callable[[str], tuple[str | None, str | None, str | None] | None] | None = None,
                   ) -> BeaconPipeline:
        """Open the spool (it holds a lock: one process per directory) and start the
        forwarder. With no Kafka the spool is the sink."""
        if signer is None:
            ring = KeyRing(keys, revoked) if keys else KeyRing.ephemeral()
            signer = TokenSigner(ring, grace_s=grace_s)
        config = intake_config or IntakeConfig()
        if config.gateway_id == "adgw":
            config = replace(config, gateway_id=default_gateway_id())
        spool = await Spool(Path(spool_dir), max_bytes=spool_max_bytes, busy=ProcessLoad()).open()
        intake = BeaconIntake(signer, spool, store, config=config, geo=geo)
        forwarder = None
        if kafka_bootstrap:
            forwarder = Forwarder(spool, kafka_bootstrap, topic=topic, invalid_topic=invalid_topic)
            await forwarder.start()
        return cls(signer, spool, intake, forwarder)

    async def close(self, drain_timeout_s: float = 5.0) -> None:
        await self.intake.deduper.drain()  # the last dedup confirmations
        if self.forwarder is not None:
            await self.forwarder.stop(drain_timeout_s)
        await self.spool.close()
