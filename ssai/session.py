"""SSAI sessions over the store: the session record, one decision per break per session
(first writer wins, so every variant, audio and subtitle playlist fetched concurrently
gets the same ads), and the per-playlist live state."""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ssai.errors import SessionError
from ssai.stitch import LiveState
from store.base import Store

DEFAULT_TTL_S = 4 * 3600.0


@dataclass(frozen=True, slots=True)
class SessionRecord:
    id: str
    origin: str
    params: dict[str, Any] = field(default_factory=dict)  # ad-request parameters (sid, cid, ...)
    created_at: float = 0.0
    expires_at: float = 0.0


class Sessions:
    def __init__(self, store: Store, clock: Callable[[], float] = time.time, ttl_s: float = DEFAULT_TTL_S,
                 new_id: Callable[[], str] = lambda: secrets.token_urlsafe(12)) -> None:  # fmt: skip
        self._store = store
        self._clock = clock
        self._ttl = ttl_s
        self._new_id = new_id

    @staticmethod
    def _key(session_id: str, *parts: str) -> str:
        return ":".join(("sess", session_id, *parts))

    async def create(self, origin: str, params: Mapping[str, Any] | None = None) -> SessionRecord:
        now = self._clock()
        record = SessionRecord(self._new_id(), origin, dict(params or {}), now, now + self._ttl)
        if not await self._store.set_json_if_absent(self._key(record.id), asdict(record), self._ttl):
            raise SessionError("session id collision")
        return record

    async def get(self, session_id: str) -> SessionRecord:
        data = await self._store.get_json(self._key(session_id))
        if not data:
            raise SessionError(f"unknown or expired session {session_id!r}")
        return SessionRecord(**data)

    async def decision(self, session_id: str, break_id: str, decide: Callable[[], Awaitable[Any]]) -> Any:
        """The JSON decision for a break, made once per session: concurrent callers may all
        decide, but only the first stored answer is ever returned."""
        key = self._key(session_id, "brk", break_id)
        found = await self._store.get_json(key)
        if found is not None:
            return found
        value = await decide()
        if await self._store.set_json_if_absent(key, value, self._ttl):
            return value
        stored = await self._store.get_json(key)
        return value if stored is None else stored

    async def live_state(self, session_id: str, playlist: str) -> LiveState:
        return LiveState.from_json(await self._store.get_json(self._key(session_id, "live", playlist)))

    async def save_live_state(self, session_id: str, playlist: str, state: LiveState) -> None:
        await self._store.set_json(self._key(session_id, "live", playlist), state.to_json(), self._ttl)
