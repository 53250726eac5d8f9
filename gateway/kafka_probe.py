"""A Kafka liveness probe: one ApiVersions v0 round trip on a fresh connection.

A TCP connect alone is not enough: a frozen broker (SIGSTOP, GC pause, hung disk) still
completes handshakes from the kernel's backlog. Only an answered request proves it
serves (Kafka protocol guide, ApiVersions key 18).
"""

from __future__ import annotations

import asyncio
import contextlib
import struct

_CLIENT = b"adgw-health"
_REQUEST = struct.pack(">hhih", 18, 0, 0x0ADC, len(_CLIENT)) + _CLIENT
_FRAME = struct.pack(">i", len(_REQUEST)) + _REQUEST


async def kafka_answers(bootstrap: str, timeout: float = 0.8) -> tuple[bool, str]:
    last = "no bootstrap server"
    for server in (s.strip() for s in bootstrap.split(",") if s.strip()):
        host, _, port = server.rpartition(":")
        writer = None
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(host.strip("[]"), int(port))
                writer.write(_FRAME)
                await writer.drain()
                (size,) = struct.unpack(">i", await reader.readexactly(4))
                body = await reader.readexactly(min(size, 1 << 16))
                (correlation,) = struct.unpack(">i", body[:4])
                if correlation == 0x0ADC:
                    return True, server
                last = f"{server}: unexpected answer"
        except (TimeoutError, OSError, asyncio.IncompleteReadError, struct.error) as exc:
            last = f"{server}: {type(exc).__name__}"
        finally:
            if writer is not None:
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()
    return False, last
