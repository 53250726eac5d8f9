"""Model features: one schema and one encoder shared by training and serving.

Raw values come from three places: the ad request (`request_raw`), entity hashes in
the store (`FeatureHydrator`, Feast-compatible layout: one Redis hash per entity,
`feat:<entity>:<id>`), and the ad side (`ad_raw`, from the catalog's line item and
creative, encoded once per snapshot by `AdFeatureCache`). `encode` turns columns of raw
values into the float32 matrix every model reads; training (fixtures/models/train.py,
decision/models/synthetic.py) calls the very same `encode`, so offline and online
features cannot drift apart.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from decision.request import AdRequest

GENRES = ("drama", "comedy", "news", "sports", "kids", "reality", "documentary", "movies", "other")
DEVICE_TYPES = ("ctv", "mobile", "desktop")
DAYPARTS = ("morning", "daytime", "primetime", "overnight")
POSITIONS = ("pre", "mid", "post")
AD_CATEGORIES = ("auto", "cpg", "finance", "retail", "entertainment", "tech", "pharma", "travel", "other")
TIERS = ("sponsorship", "standard", "programmatic", "house")
GOALS = ("completion", "click", "impressions")

# IAB Content Taxonomy 1.0 tier-1 codes to the coarse advertiser categories models know.
_IAB_TO_CATEGORY = {
    "IAB1": "entertainment", "IAB2": "auto", "IAB3": "finance", "IAB7": "pharma", "IAB8": "cpg",
    "IAB13": "finance", "IAB18": "retail", "IAB19": "tech", "IAB20": "travel", "IAB22": "retail",
}
_GOAL_ALIASES = {
    "completion": "completion", "completions": "completion", "cpcv": "completion", "vcr": "completion",
    "complete": "completion", "click": "click", "clicks": "click", "cpc": "click", "ctr": "click",
    "impressions": "impressions", "impression": "impressions", "cpm": "impressions", "reach": "impressions",
}


@dataclass(frozen=True, slots=True)
class Entity:
    """One entity hash: `feat:<name>:<id>`; `fields` maps hash field -> (raw name, default)."""

    name: str
    fields: tuple[tuple[str, str, float], ...]
    personal: bool  # user-level data: only read when the request allows personalisation

    def key(self, entity_id: str) -> str:
        return f"feat:{self.name}:{entity_id}"


ENTITIES = (
    Entity("user", (("completion_rate", "user_completion_rate", 0.78),
                    ("ctr", "user_ctr", 0.02),
                    ("impressions_7d", "user_impressions_7d", 20.0)), personal=True),
    Entity("household", (("size", "hh_size", 2.5),
                         ("tv_hours_7d", "hh_tv_hours_7d", 20.0)), personal=True),
    Entity("device", (("completion_rate", "device_completion_rate", 0.78),
                      ("sessions_7d", "device_sessions_7d", 10.0)), personal=False),
    Entity("content", (("completion_rate", "content_completion_rate", 0.78),
                       ("popularity", "content_popularity", 0.5)), personal=False),
)
ENTITY_DEFAULTS: dict[str, float] = {raw: default for e in ENTITIES for _, raw, default in e.fields}


@dataclass(frozen=True, slots=True)
class Feature:
    """One model input column. `kind`: onehot (source == value), flag (truthy), numeric
    (value * scale), log1p (log1p(max(0, value)) * scale)."""

    name: str
    side: str  # request | ad
    source: str
    kind: str
    value: str | None = None
    scale: float = 1.0
    default: float = 0.0  # raw value assumed when the source is missing

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "type": "float32", "side": self.side, "source": self.source,
                "kind": self.kind, "value": self.value, "scale": self.scale, "default": self.default}


def _onehots(side: str, source: str, values: Sequence[str]) -> list[Feature]:
    return [Feature(f"{source}={v}", side, source, "onehot", v) for v in values]


def _build_schema() -> tuple[Feature, ...]:
    feats: list[Feature] = []
    feats += _onehots("request", "genre", GENRES)
    feats += _onehots("request", "device_type", DEVICE_TYPES)
    feats += _onehots("request", "daypart", DAYPARTS)
    feats += _onehots("request", "position", POSITIONS)
    feats.append(Feature("live", "request", "live", "flag"))
    feats.append(Feature("break_min", "request", "break_s", "numeric", scale=1 / 60, default=30.0))
    feats.append(Feature("user_known", "request", "user_known", "flag"))
    feats.append(Feature("user_completion_rate", "request", "user_completion_rate", "numeric", default=0.78))
    feats.append(Feature("user_ctr_x10", "request", "user_ctr", "numeric", scale=10.0, default=0.02))
    feats.append(Feature("user_impressions_7d_log", "request", "user_impressions_7d", "log1p", scale=0.25, default=20.0))
    feats.append(Feature("hh_size", "request", "hh_size", "numeric", scale=0.2, default=2.5))
    feats.append(Feature("hh_tv_hours_7d_log", "request", "hh_tv_hours_7d", "log1p", scale=0.25, default=20.0))
    feats.append(Feature("device_completion_rate", "request", "device_completion_rate", "numeric", default=0.78))
    feats.append(Feature("device_sessions_7d_log", "request", "device_sessions_7d", "log1p", scale=0.25, default=10.0))
    feats.append(Feature("content_completion_rate", "request", "content_completion_rate", "numeric", default=0.78))
    feats.append(Feature("content_popularity", "request", "content_popularity", "numeric", default=0.5))
    feats.append(Feature("ad_duration_30s", "ad", "ad_duration_s", "numeric", scale=1 / 30, default=30.0))
    feats += [Feature(f"ad_len={b}", "ad", "ad_len", "onehot", b) for b in ("short", "standard", "long")]
    feats += _onehots("ad", "ad_category", AD_CATEGORIES)
    feats += _onehots("ad", "tier", TIERS)
    feats += _onehots("ad", "goal", GOALS)
    feats.append(Feature("clickable", "ad", "clickable", "flag"))
    return tuple(feats)


SCHEMA: tuple[Feature, ...] = _build_schema()
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in SCHEMA)
FEATURE_INDEX: dict[str, int] = {name: i for i, name in enumerate(FEATURE_NAMES)}
REQUEST_FEATURES = tuple(f for f in SCHEMA if f.side == "request")
AD_FEATURES = tuple(f for f in SCHEMA if f.side == "ad")
N_REQUEST = len(REQUEST_FEATURES)
N_FEATURES = len(SCHEMA)
# request columns come first, then ad columns (the matrix layout `assemble` relies on)
assert all(f.side == "request" for f in SCHEMA[:N_REQUEST])


def encode(columns: Mapping[str, Any], features: Sequence[Feature], n: int) -> np.ndarray:
    """Encode `n` rows of raw `columns` (each a sequence of length n, or a scalar broadcast
    to every row) into a float32 matrix with one column per feature."""
    out = np.empty((n, len(features)), dtype=np.float32)
    cache: dict[str, np.ndarray] = {}
    for j, feat in enumerate(features):
        raw = cache.get(feat.source)
        if raw is None:
            value = columns.get(feat.source)
            if value is None:
                value = feat.default
            raw = np.asarray(value)
            if raw.ndim == 0:
                raw = raw.reshape(1)
            cache[feat.source] = raw
        if feat.kind == "onehot":
            out[:, j] = raw == feat.value
        elif feat.kind == "flag":
            out[:, j] = raw.astype(bool)
        elif feat.kind == "numeric":
            out[:, j] = raw.astype(np.float64) * feat.scale
        elif feat.kind == "log1p":
            out[:, j] = np.log1p(np.maximum(raw.astype(np.float64), 0.0)) * feat.scale
        else:
            raise ValueError(f"unknown feature kind {feat.kind!r}")
    return out


# ---------------------------------------------------------------- request side

def daypart(epoch_s: float, utc_offset_h: float = 0.0) -> str:
    hour = int(((epoch_s / 3600.0) + utc_offset_h) % 24)
    if 6 <= hour < 12:
        return "morning"
    if 12 <= hour < 17:
        return "daytime"
    if 17 <= hour < 23:
        return "primetime"
    return "overnight"


def genre_of(genre: str | None) -> str:
    g = (genre or "").lower()
    return g if g in GENRES else "other"


def request_raw(request: AdRequest, now_epoch_s: float, entities: Mapping[str, float] | None = None) -> dict[str, Any]:
    """Raw request-side values (entity values from `FeatureHydrator`, defaults otherwise)."""
    raw: dict[str, Any] = dict(ENTITY_DEFAULTS)
    raw["user_known"] = 0.0
    if entities:
        raw.update(entities)
    raw.update(
        genre=genre_of(request.genre),
        device_type=request.device_type if request.device_type in DEVICE_TYPES else "ctv",
        daypart=daypart(now_epoch_s),
        position=request.position if request.position in POSITIONS else "mid",
        live=1.0 if request.live else 0.0,
        break_s=float(request.duration_s),
    )
    return raw


def entity_ids(request: AdRequest) -> dict[str, str]:
    """Entity ids of a request; user-level entities only when personalisation is allowed."""
    ids: dict[str, str] = {"device": request.sid}
    if request.cid:
        ids["content"] = request.cid
    if request.personalised:
        if request.ifa:
            ids["user"] = request.ifa
        if request.ip:
            ids["household"] = household_of(request.ip)
    return ids


def household_of(ip: str) -> str:
    """IP-based household id: IPv4 /24 or IPv6 /48 (never the full address)."""
    if ":" in ip:
        return ":".join(ip.split(":")[:3]) + "::/48"
    parts = ip.split(".")
    return ".".join(parts[:3]) + ".0/24" if len(parts) == 4 else ip


@dataclass(slots=True)
class Hydrated:
    """Entity values for one request. `defaulted` counts entity fields filled with
    defaults (missing entity, missing field, unparsable value, or the deadline passed)."""

    values: dict[str, float] = field(default_factory=dict)
    defaulted: int = 0
    total: int = 0
    timed_out: bool = False
    error: str | None = None
    elapsed_s: float = 0.0


class FeatureHydrator:
    """Reads a request's entity hashes in one pipelined round trip (`hgetall_many`) with
    a hard deadline; past it every entity value takes its default and is flagged."""

    def __init__(self, store: Any | None, *, timeout_s: float = 0.003,
                 monotonic=time.monotonic) -> None:
        self._store = store
        self.timeout_s = timeout_s
        self._monotonic = monotonic

    async def hydrate(self, request: AdRequest, *, timeout_s: float | None = None) -> Hydrated:
        ids = entity_ids(request)
        wanted = [e for e in ENTITIES if e.name in ids]
        total = sum(len(e.fields) for e in ENTITIES)
        result = Hydrated(values=dict(ENTITY_DEFAULTS), total=total)
        result.values["user_known"] = 0.0
        result.defaulted = total
        if self._store is None or not wanted:
            return result
        budget = self.timeout_s if timeout_s is None else min(self.timeout_s, timeout_s)
        start = self._monotonic()
        try:
            if budget <= 0:
                raise TimeoutError
            hashes = await asyncio.wait_for(self._store.hgetall_many([e.key(ids[e.name]) for e in wanted]), budget)
        except TimeoutError:
            result.timed_out = True
            result.elapsed_s = self._monotonic() - start
            return result
        except Exception as exc:  # noqa: BLE001 - any store failure means defaults, flagged
            result.error = f"{type(exc).__name__}: {exc}"
            result.elapsed_s = self._monotonic() - start
            return result
        result.elapsed_s = self._monotonic() - start
        for entity, values in zip(wanted, hashes, strict=True):
            if entity.name == "user" and values:
                result.values["user_known"] = 1.0
            for hash_field, raw_name, _default in entity.fields:
                blob = values.get(hash_field)
                if blob is None:
                    continue
                try:
                    number = float(blob)
                except (TypeError, ValueError):
                    continue
                if math.isfinite(number):
                    result.values[raw_name] = number
                    result.defaulted -= 1
        return result


def entity_hash(entity: str, values: Mapping[str, float]) -> dict[str, str]:
    """The hash a feature pipeline writes for an entity (for materialisation and tests)."""
    spec = next(e for e in ENTITIES if e.name == entity)
    known = {f for f, _, _ in spec.fields}
    return {k: repr(float(v)) for k, v in values.items() if k in known}


# ---------------------------------------------------------------- ad side

def ad_length_bucket(duration_s: float) -> str:
    if duration_s <= 15.5:
        return "short"
    if duration_s <= 30.5:
        return "standard"
    return "long"


def category_of(line_item: Any, creative: Any, advertiser: Any = None) -> str:
    explicit = getattr(line_item, "advertiser_category", None) or getattr(creative, "advertiser_category", None)
    if isinstance(explicit, str) and explicit.lower() in AD_CATEGORIES:
        return explicit.lower()
    iab = (getattr(creative, "iab_category", None) or getattr(advertiser, "iab_category", None)
           or getattr(line_item, "iab_category", None) or explicit)
    if isinstance(iab, str) and iab:
        return _IAB_TO_CATEGORY.get(iab.split("-")[0].upper(), "other")
    return "other"


def goal_of(line_item: Any) -> str:
    for attr in ("goal_type", "goal", "optimization_goal", "pricing", "pricing_model"):
        value = getattr(line_item, attr, None)
        value = getattr(value, "value", value)  # enums
        if isinstance(value, str) and value.lower() in _GOAL_ALIASES:
            return _GOAL_ALIASES[value.lower()]
    return "impressions"


def ad_raw(line_item: Any, creative: Any, advertiser: Any = None) -> dict[str, Any]:
    """Raw ad-side values from the engine's objects. This is the one adapter from the
    catalog (decision/catalog.py LineItem, Creative, Advertiser) to model inputs; it
    reads them duck-typed: `tier`, `goal` (CPM | CPCV | CPC ...), the creative's
    duration, IAB category and click-through."""
    duration = float(getattr(creative, "duration_s", 30.0) or 30.0)
    tier = getattr(line_item, "tier", "standard")
    tier = getattr(tier, "value", tier)
    return {
        "ad_duration_s": duration,
        "ad_len": ad_length_bucket(duration),
        "ad_category": category_of(line_item, creative, advertiser),
        "tier": tier if tier in TIERS else "standard",
        "goal": goal_of(line_item),
        "clickable": 1.0 if getattr(creative, "click_through", None) else 0.0,
    }


class AdFeatureCache:
    """Encoded ad-side rows per (line item, creative), computed once per catalog snapshot.

    Snapshots are immutable objects, so rows are keyed by object identity (the cache
    holds the objects, so an id is never reused while its row is cached); `precompute`
    encodes a whole snapshot in one vectorised call when the catalog is swapped. Rows
    live in one array, so a request's ad matrix is a single fancy-indexing copy."""

    def __init__(self, max_entries: int = 200_000) -> None:
        self._max = max_entries
        self._clear()

    def _clear(self) -> None:
        self._pos: dict[tuple[int, int], int] = {}
        self._keep: list[tuple[Any, Any]] = []
        self._rows = np.empty((0, len(AD_FEATURES)), dtype=np.float32)

    def __len__(self) -> int:
        return len(self._pos)

    def precompute(self, candidates: Sequence[Any]) -> None:
        """Encode candidates (objects with `.line_item`, `.creative`, optionally
        `.advertiser`), e.g. all of a new catalog snapshot's `candidates`."""
        fresh = {}
        for c in candidates:
            key = (id(c.line_item), id(c.creative))
            if key not in self._pos:
                fresh[key] = c
        if not fresh:
            return
        if self._pos and len(self._pos) + len(fresh) > self._max:
            self._clear()
            return self.precompute(candidates)
        todo = list(fresh.values())
        raws = [ad_raw(c.line_item, c.creative, getattr(c, "advertiser", None)) for c in todo]
        cols = {src: [r[src] for r in raws] for src in raws[0]}
        matrix = encode(cols, AD_FEATURES, len(todo))
        base = len(self._keep)
        # copy-on-grow: a request indexing the old array keeps a consistent view
        self._rows = np.concatenate([self._rows, matrix])
        for i, (key, c) in enumerate(fresh.items()):
            self._pos[key] = base + i
            self._keep.append((c.line_item, c.creative))

    def matrix(self, candidates: Sequence[Any]) -> np.ndarray:
        pos = self._pos
        try:
            idx = [pos[(id(c.line_item), id(c.creative))] for c in candidates]
        except KeyError:
            self.precompute(candidates)
            pos = self._pos
            idx = [pos[(id(c.line_item), id(c.creative))] for c in candidates]
        return self._rows[idx]


def assemble(request_row: np.ndarray, ad_matrix: np.ndarray) -> np.ndarray:
    """The full feature matrix: the request row broadcast beside each candidate's ad row."""
    n = ad_matrix.shape[0]
    x = np.empty((n, N_FEATURES), dtype=np.float32)
    x[:, :N_REQUEST] = request_row
    x[:, N_REQUEST:] = ad_matrix
    return x
