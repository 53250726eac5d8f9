"""The SSAI glue between HTTP and the sans-I/O `ssai` core: origin and ad playlists
fetched (and cached) through the guarded fetcher, one decision per break per session,
plans, stitching, tracking JSON and the segment redirects. The route module
(`gateway/routes/ssai.py`) only parses requests and writes answers.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urljoin, urlsplit

import vast
from beacons.tokens import TokenSigner, tracking_url
from decision.pod import BreakSpec, Creative, Pod, StreamHistory
from decision.request import AdRequest
from gateway.fetch import Fetcher, FetchError
from gateway.ssai_decisions import (
    FILL,
    ad_request_of,
    cue_offsets,
    decision_json,
    placed_from_json,
    with_history,
)
from gateway.ssai_pages import BadOriginPlaylist, OriginUnavailable, PlaylistPages
from gateway.ssai_programmatic import resolve_pod
from ssai import interstitials
from ssai.errors import PlanError, SessionError, SsaiError
from ssai.plan import (
    AdMedia,
    AdVariant,
    Avail,
    Break,
    FillPolicy,
    Plan,
    TrackingEvent,
    find_breaks,
    make_plan,
)
from ssai.playlist import MediaPlaylist, MultivariantPlaylist, parse, render_multivariant
from ssai.rendition import AUDIO, VIDEO, Target, choose, targets
from ssai.session import DEFAULT_TTL_S, SessionRecord, Sessions
from ssai.stitch import AdRef, LiveState, Origin, OriginCache, StitchOptions, stitch, stitch_live
from ssai.timeline import LiveAnchor, anchor_of, avail_starts, with_preroll
from ssai.tracking import progress_events, tracking_json
from store import Store

log = logging.getLogger("adgw.ssai")


class UnknownSession(Exception):
    status_hint = 404
    kind = "unknown-session"


class NotInSession(Exception):
    """A playlist, avail, ad or segment this session does not have."""

    status_hint = 404
    kind = "not-found"

# the events the tracking JSON and server-side progress know (ssai.tracking's timeline)
TRACKED_EVENTS = ("impression", "start", "firstQuartile", "midpoint", "thirdQuartile", "complete")
AD_MEDIA_TTL_S = 300.0
SINGLE_VARIANT_BANDWIDTH = 2_000_000  # BANDWIDTH is required (RFC 8216 §4.3.4.2); unknown for a bare media origin
_PLAIN_ID = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


# ---------------------------------------------------------------------------- ids in URLs


def encode_id(value: str) -> str:
    """A path segment for an avail or ad id: plain ids as they are, others base64url
    behind `~` (a `/` or `%2F` inside a path segment does not survive routing)."""
    if _PLAIN_ID.match(value):
        return value
    return "~" + base64.urlsafe_b64encode(value.encode()).rstrip(b"=").decode("ascii")


def decode_id(text: str) -> str:
    if not text.startswith("~"):
        return text
    raw = text[1:]
    try:
        return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise NotInSession("malformed id in the URL") from None


# ---------------------------------------------------------------------------- small helpers


class KeyedLocks:
    """One asyncio lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, list] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        entry = self._locks.get(key)
        if entry is None:
            entry = self._locks[key] = [asyncio.Lock(), 0]
        entry[1] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                self._locks.pop(key, None)


@dataclass(frozen=True, slots=True)
class SegmentHit:
    url: str  # where the 302 sends the player
    events: tuple[str, ...]  # progress events this fetch fires
    token: str  # the ad instance's beacon token
    trackers: dict[str, list[str]]  # the ad's own (third-party) trackers by event
    duration_s: float
    ad_serving_id: str
    asset_uri: str | None


@dataclass(frozen=True, slots=True)
class MediaEntry:
    url: str  # absolute URL of the origin media playlist
    target: Target


# ---------------------------------------------------------------------------- the service


class SsaiService:
    def __init__(self, *, sessions: Sessions, store: Store, fetcher: Fetcher, signer: TokenSigner, decide,
                 base_url: str, slate_url: str | None = None, clock=time.time,
                 session_ttl_s: float = DEFAULT_TTL_S, fire_error_url=None) -> None:  # fmt: skip
        self.sessions = sessions
        self.store = store
        self._session_ttl = session_ttl_s
        self.fetcher = fetcher
        self.signer = signer
        self._decide = decide  # async (request, specs, history) -> pods: gateway.services.decide
        self.base = base_url.rstrip("/")
        self.slate_url = slate_url
        self._clock = clock
        self.pages = PlaylistPages(fetcher)
        self.origins = OriginCache()
        self._ad_media = vast.TagCache(ttl_s=AD_MEDIA_TTL_S, max_entries=512)
        self._locks = KeyedLocks()
        self._fire_error_url = fire_error_url  # the tracker queue, for failed tags' Error URLs

    # -- URLs ------------------------------------------------------------------------
    def session_url(self, session_id: str, tail: str) -> str:
        return f"{self.base}/v1/sessions/{session_id}/{tail}"

    @property
    def gap_url(self) -> str:
        return f"{self.base}/v1/ssai/gap.vtt"

    def absolute(self, uri: str) -> str:
        return urljoin(self.base + "/", uri)

    # -- sessions --------------------------------------------------------------------
    async def create(self, params: Mapping[str, str]) -> SessionRecord:
        return await self.sessions.create(params["origin"], params)

    async def session(self, session_id: str) -> SessionRecord:
        try:
            return await self.sessions.get(session_id)
        except SessionError as exc:
            raise UnknownSession(str(exc)) from None

    # -- origin ----------------------------------------------------------------------
    async def _origin_text(self, url: str) -> tuple[str, MediaPlaylist | MultivariantPlaylist, str]:
        final, text = await self.pages.get(url)
        try:
            return final, parse(text), text
        except SsaiError as exc:
            raise BadOriginPlaylist(f"origin playlist {urlsplit(url).path[:200]}: {exc}") from None

    async def entries(self, record: SessionRecord) -> tuple[tuple[MediaEntry, ...], MultivariantPlaylist | None]:
        """The media playlists of the session, in the order of `/media/{n}.m3u8`: variants,
        then every rendition with a URI (a bare media origin is one variant)."""
        final, playlist, _ = await self._origin_text(record.origin)
        if isinstance(playlist, MediaPlaylist):
            return (MediaEntry(final, Target()),), None
        by_kind = iter([t for _, t in targets(playlist)][len(playlist.variants):])
        out = [MediaEntry(urljoin(final, v.uri), Target(VIDEO, v.bandwidth, v.resolution, v.codecs))
               for v in playlist.variants]  # fmt: skip
        for rendition in playlist.renditions:
            if rendition.uri is None:
                continue
            if rendition.type in ("AUDIO", "SUBTITLES"):
                target = next(by_kind)
            else:
                target = Target(VIDEO, 0, None, None, rendition.group_id, rendition.language)
            out.append(MediaEntry(urljoin(final, rendition.uri), target))
        return tuple(out), playlist

    async def master(self, record: SessionRecord) -> str:
        entries, playlist = await self.entries(record)

        def media(n: int) -> str:
            return self.session_url(record.id, f"media/{n}.m3u8")

        if playlist is None:
            return "\n".join(["#EXTM3U", f"#EXT-X-STREAM-INF:BANDWIDTH={SINGLE_VARIANT_BANDWIDTH}", media(0)]) + "\n"
        numbers: dict[int, int] = {}
        n = len(playlist.variants)
        for j, rendition in enumerate(playlist.renditions):
            if rendition.uri is not None:
                numbers[j] = n
                n += 1
        return render_multivariant(playlist, lambda i, _v: media(i), lambda j, _r: media(numbers[j]))

    async def _media_origin(self, record: SessionRecord, n: int) -> tuple[MediaEntry, Origin]:
        entries, _ = await self.entries(record)
        if not 0 <= n < len(entries):
            raise NotInSession(f"this session has no media playlist {n}")
        entry = entries[n]
        final, text = await self.pages.get(entry.url)
        try:
            origin = self.origins.get(text, final)
        except SsaiError as exc:
            raise BadOriginPlaylist(f"origin media playlist {urlsplit(entry.url).path[:200]}: {exc}") from None
        return entry, origin

    # -- the media playlist ----------------------------------------------------------
    async def media(self, record: SessionRecord, n: int) -> tuple[str, bool]:
        """(playlist text, live)."""
        entry, origin = await self._media_origin(record, n)
        request = ad_request_of(record)
        playlist = origin.playlist
        try:
            if record.params.get("mode") == "interstitials":
                breaks = find_breaks(playlist, None if playlist.is_live else cue_offsets(request))
                plan = await self.plan(record, request, breaks, live=False)
                return interstitials.render(origin, plan, lambda a: self.session_url(
                    record.id, f"assets/{encode_id(a.id)}.json")), playlist.is_live
            options = StitchOptions(target=entry.target, ad_uri=self._ad_uri(record.id, entry.target),
                                    subtitle_gap_uri=self.gap_url)  # fmt: skip
            if not playlist.is_live:
                plan = await self.plan(record, request, find_breaks(playlist, cue_offsets(request)), live=False)
                return stitch(origin, plan, options), False
            async with self._locks.hold(f"live:{record.id}:{n}"):
                state = await self.sessions.live_state(record.id, str(n))
                breaks = await self.live_breaks(record, playlist, state)
                plan = await self.plan(record, request, breaks, live=True)
                text, state = stitch_live(origin, plan, options, state)
                await self.sessions.save_live_state(record.id, str(n), state)
            return text, True
        except SsaiError as exc:
            raise BadOriginPlaylist(f"origin media playlist {urlsplit(entry.url).path[:200]}: {exc}") from None

    def _ad_uri(self, session_id: str, target: Target):
        def uri(ref: AdRef) -> str:
            if ref.kind != "ad" or ref.ad.placed is None:
                return ref.uri  # slate, bumpers and subtitle gaps carry no tracking
            pool = (*ref.ad.variants, *ref.ad.audio)
            chosen = choose(ref.ad, target)  # the stitcher's own choice for this rendition
            k = next((i for i, v in enumerate(pool) if v is chosen), None)
            if k is None:
                return ref.uri
            path = urlsplit(ref.uri).path
            ext = path[path.rfind("."):] if "." in path.rsplit("/", 1)[-1] else ""
            if not re.fullmatch(r"\.[A-Za-z0-9]{1,5}", ext):
                ext = ""
            return self.session_url(session_id, f"seg/{encode_id(ref.avail_id)}/{encode_id(ref.ad.ad_id)}/"
                                                f"{ref.segment_index}{ext}?v={k}")  # fmt: skip

        return uri

    # -- planning --------------------------------------------------------------------
    async def plan(self, record: SessionRecord, request: AdRequest, breaks: Sequence[Break], *, live: bool) -> Plan:
        decisions = await self.decisions(record, request, breaks)
        ads: dict[str, list[AdMedia]] = {}
        for brk in breaks:
            ads[brk.id] = await self.ad_media(decisions[brk.id])
        pods = {b.id: Pod(decisions[b.id].get("pod_id") or b.id, b.spec()) for b in breaks}
        return make_plan(breaks, ads, await self.fill_policy(record, live=live), pods)

    async def fill_policy(self, record: SessionRecord, *, live: bool) -> FillPolicy:
        """The session's fill knobs: slate (live), bumpers, personalization threshold."""
        fill = record.params.get(FILL) or {}
        bumpers = fill.get("bumpers") or {}
        slate = await self.slate(fill.get("slate") or self.slate_url) if live else None
        start = await self.bumper(bumpers["start"], "bumper-start") if bumpers.get("start") else None
        end = await self.bumper(bumpers["end"], "bumper-end") if bumpers.get("end") else None
        return FillPolicy(slate=slate, personalization_threshold_s=fill.get("personalization_threshold_s"),
                          start_bumper=start, end_bumper=end)  # fmt: skip

    # -- live timeline -----------------------------------------------------------------
    async def live_anchor(self, record: SessionRecord, playlist: MediaPlaylist) -> LiveAnchor | None:
        """The session's live anchor, taken from the first live playlist it saw (first
        writer wins, so every variant and the tracking JSON share it)."""
        key = f"sess:{record.id}:anchor"
        found = await self.store.get_json(key)
        if found:
            return LiveAnchor.from_json(found)
        anchor = anchor_of(playlist)
        if anchor is None:
            return None
        if await self.store.set_json_if_absent(key, anchor.to_json(), self._session_ttl):
            return anchor
        stored = await self.store.get_json(key)
        return LiveAnchor.from_json(stored) if stored else anchor

    async def live_breaks(self, record: SessionRecord, playlist: MediaPlaylist, state: LiveState) -> tuple[Break, ...]:
        preroll = (record.params.get(FILL) or {}).get("live_preroll_s")
        anchor = await self.live_anchor(record, playlist)
        return with_preroll(playlist, state, anchor, preroll)

    async def decisions(self, record: SessionRecord, request: AdRequest, breaks: Sequence[Break]) -> dict[str, dict]:
        """One decision per break per session (the store's first writer wins across
        instances; the lock keeps this instance from deciding a break twice)."""
        out: dict[str, dict] = {}
        if not breaks:
            return out
        policy = await self.fill_policy(record, live=False)  # the bumpers' room
        history = StreamHistory()
        async with self._locks.hold(f"decide:{record.id}"):
            for brk in sorted(breaks, key=lambda b: (b.start_sequence, b.start_time)):
                spec = brk.spec(request.max_ads)
                spec = replace(spec, duration_s=policy.ad_room(brk))
                decision = await self.sessions.decision(record.id, brk.id, self._decider(request, spec, history))
                out[brk.id] = decision
                history = with_history(history, decision)
        return out

    def _decider(self, request: AdRequest, spec: BreakSpec, history: StreamHistory):
        async def decide() -> dict:
            if spec.duration_s <= 0:  # the bumpers fill the break
                return {"pod_id": spec.break_id, "decided_at": self._clock(), "ads": []}
            pods = await self._decide(request, [spec], history)
            resolved, _ = await resolve_pod(self.fetcher, pods[0], request, fire=self._fire_error_url)
            return decision_json(pods[0], request, self.signer, self._clock(), resolved)

        return decide

    async def stored_decision(self, record: SessionRecord, avail_id: str) -> dict:
        async def unknown() -> dict:
            raise NotInSession(f"no avail {avail_id!r} in this session")

        return await self.sessions.decision(record.id, avail_id, unknown)

    # -- ad media --------------------------------------------------------------------
    async def ad_media(self, decision: Mapping[str, Any]) -> list[AdMedia]:
        out = []
        for ad in decision.get("ads", ()):
            placed = placed_from_json(ad)
            try:
                variants, audio = await self.ad_variants(placed.creative)
                tracking = tuple(TrackingEvent(e, (tracking_url(self.base, ad["token"], e),)) for e in TRACKED_EVENTS)
                media = AdMedia.from_placed(placed, variants, tracking)
            except (OriginUnavailable, BadOriginPlaylist, FetchError, SsaiError) as exc:
                log.warning("ad %s (creative %s) left out: %s", placed.imp_id, placed.creative.id, exc)
                continue
            out.append(replace(media, audio=audio) if audio else media)
        return out

    async def ad_variants(self, creative: Creative) -> tuple[tuple[AdVariant, ...], tuple[AdVariant, ...]]:
        """The creative's HLS variants (video) and audio renditions, parsed and cached."""
        key = creative.hls_url or "|".join(v.uri for v in creative.hls_variants)
        found = self._ad_media.get(key)
        if found is not None:
            return found  # type: ignore[return-value]
        if creative.hls_url:
            final, playlist, _ = await self._origin_text(self.absolute(creative.hls_url))
            if isinstance(playlist, MediaPlaylist):
                bandwidth = creative.hls_variants[0].bandwidth if creative.hls_variants else SINGLE_VARIANT_BANDWIDTH
                variants = (AdVariant.from_playlist(final, playlist, bandwidth),)
                audio: tuple[AdVariant, ...] = ()
            else:
                specs = [(urljoin(final, v.uri), v.bandwidth, v.resolution, v.codecs) for v in playlist.variants]
                audio_specs = []
                for r in playlist.renditions:
                    if r.type == "AUDIO" and r.uri:
                        users = [v.bandwidth for v in playlist.variants if v.audio == r.group_id]
                        audio_specs.append((urljoin(final, r.uri), min(users) if users else 0, None, None))
                variants = await self._variants(specs)
                audio = await self._variants(audio_specs)
        else:
            specs = [(self.absolute(v.uri), v.bandwidth, v.resolution, v.codecs) for v in creative.hls_variants]
            variants, audio = await self._variants(specs), ()
        if not variants:
            raise PlanError(f"creative {creative.id} has no HLS variant")
        value = (variants, audio)
        self._ad_media.put(key, value)
        return value

    async def _variants(self, specs: Sequence[tuple[str, int, tuple[int, int] | None, str | None]]) -> tuple[AdVariant, ...]:
        async def one(url: str, bandwidth: int, resolution, codecs) -> AdVariant:
            final, playlist, _ = await self._origin_text(url)
            if not isinstance(playlist, MediaPlaylist):
                raise BadOriginPlaylist(f"ad variant {url} is not a media playlist")
            return AdVariant.from_playlist(final, playlist, bandwidth, resolution, codecs)

        return tuple(await asyncio.gather(*(one(*s) for s in specs)))

    async def slate(self, url: str | None = None) -> AdMedia | None:
        return await self._filler(url or self.slate_url, "slate", "slate")

    async def bumper(self, url: str, name: str) -> AdMedia | None:
        return await self._filler(url, name, "bumper")

    async def _filler(self, url: str | None, name: str, kind: str) -> AdMedia | None:
        """Slate or a bumper: a playlist played as it is (no decision, no tracking);
        unavailable is logged and played without."""
        if not url:
            return None
        try:
            variants, audio = await self.ad_variants(Creative(name, 1.0, "", "", hls_url=url))
        except (OriginUnavailable, BadOriginPlaylist, FetchError, SsaiError) as exc:
            log.warning("%s %s unavailable: %s", kind, urlsplit(url).path[:200], exc)
            return None
        return AdMedia(name, variants[0].duration, variants, audio=audio, kind=kind)

    # -- tracking, assets, segments -----------------------------------------------------
    async def tracking(self, record: SessionRecord) -> dict:
        """The avails of media playlist 0 (every variant carries the same ones)."""
        entry, origin = await self._media_origin(record, 0)
        request = ad_request_of(record)
        playlist = origin.playlist
        interstitial = record.params.get("mode") == "interstitials"
        try:
            if not playlist.is_live:
                breaks = find_breaks(playlist, cue_offsets(request))
                plan = await self.plan(record, request, breaks, live=False)
                # interstitials keep the content timeline: ads do not shift it
                return tracking_json(plan, live=interstitial)
            state = await self.sessions.live_state(record.id, "0")
            breaks = find_breaks(playlist) if interstitial else await self.live_breaks(record, playlist, state)
            plan = await self.plan(record, request, breaks, live=True)
            anchor = await self.live_anchor(record, playlist)
            starts = avail_starts(plan, playlist, state, anchor) if anchor is not None else None
            return tracking_json(plan, starts, live=True)
        except SsaiError as exc:
            raise BadOriginPlaylist(f"origin media playlist {urlsplit(entry.url).path[:200]}: {exc}") from None

    async def assets(self, record: SessionRecord, avail_id: str) -> dict:
        decision = await self.stored_decision(record, avail_id)
        ads = await self.ad_media(decision)
        avail = Avail(Break(avail_id, "mid", 0, 0, 0.0, sum(a.duration_s for a in ads), "state"), tuple(ads))

        def uri(ad: AdMedia) -> str:
            assert ad.placed is not None
            creative = ad.placed.creative
            return self.absolute(creative.hls_url) if creative.hls_url else ad.variants[0].uri

        return interstitials.asset_list(avail, uri)

    async def segment(self, record: SessionRecord, avail_id: str, imp_id: str, index: int, k: int) -> SegmentHit:
        """The ad segment's URL and the progress events this fetch fires."""
        decision = await self.stored_decision(record, avail_id)
        ad = next((a for a in decision.get("ads", ()) if a.get("imp_id") == imp_id), None)
        if ad is None:
            raise NotInSession(f"no ad {imp_id!r} in avail {avail_id!r}")
        placed = placed_from_json(ad)
        variants, audio = await self.ad_variants(placed.creative)
        pool = (*variants, *audio)
        if not 0 <= k < len(pool):
            raise NotInSession(f"ad {imp_id!r} has no variant {k}")
        variant = pool[k]
        if not 0 <= index < len(variant.segments):
            raise NotInSession(f"ad {imp_id!r} variant {k} has no segment {index}")
        url = urljoin(variant.uri, variant.segments[index].uri)
        media = AdMedia.from_placed(placed, variants)
        if audio:
            media = replace(media, audio=audio)
        kind = AUDIO if k >= len(variants) else VIDEO
        events = progress_events(media, index, Target(kind, variant.bandwidth, variant.resolution, variant.codecs))
        return SegmentHit(url, events, ad["token"], ad.get("trackers") or {}, media.duration_s,
                          ad.get("ad_serving_id") or imp_id, placed.creative.hls_url)  # fmt: skip

    async def record_progress(self, record: SessionRecord, avail_id: str, imp_id: str, index: int) -> None:
        """The last ad segment each ad instance served in this session (server-side
        playback progress, kept with the session)."""
        await self.store.hset(f"sess:{record.id}:progress", {f"{avail_id}/{imp_id}": index}, self._session_ttl)


__all__ = [
    "BadOriginPlaylist", "NotInSession", "OriginUnavailable", "SsaiService", "UnknownSession", "decode_id",
    "encode_id",
]  # fmt: skip
