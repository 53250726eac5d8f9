"""The catalog: a versioned JSON snapshot parsed into frozen dataclasses.

Stable types other packages build on (add fields with defaults; never rename/remove):

- `Advertiser(id, name, domain, iab_category)`
- `Campaign(id, advertiser_id, name)`
- `FrequencyCap(n, window, scope)`: at most `n` impressions per `window` (minute, hour,
  day, week, lifetime, pod, stream) per `scope` entity (creative, line_item, campaign,
  advertiser), counted per device (`AdRequest.device_key`).
- `LineItem`: tier (sponsorship | standard | programmatic | house), flight
  (`start`/`end`, epoch seconds), `dayparts` (hour-of-week windows in the catalog's local
  time), budget (`daily_budget_micros`, `lifetime_budget_micros`), `goal` (CPM | CPCV)
  and `rate_micros` (CPM in micros, or micros per completed view for CPCV), `pacing`
  (even | frontloaded | asap), `caps`, `targeting` (JSON expression, see
  decision/targeting.py), `exclusion_labels`, `allowed_ratings` (None: any), `position`
  (None | first | last), `creative_ids`, priors (`prior_completion`, `prior_ctr`).
- `ScheduledEvent(start, end, factor, name)` in `CatalogSnapshot.traffic_events` (the
  document's optional `traffic_events` list): programmes known to move request volume
  (a live game), the pacing forecast's event calendar (decision/forecast.py).
- `Candidate(index, line_item, creative, campaign, advertiser)`: one (line item,
  creative) option. Candidates are built once per snapshot (`CatalogSnapshot.candidates`)
  and handed to `Scorer.score` as they are; per-request numbers (scores, prices) live
  beside them, never on them.

`load_catalog(path)` / `parse_catalog(doc)` validate the whole document and raise
`CatalogInvalid` listing every problem; they return an immutable `CatalogSnapshot` whose
targeting index (decision/index.py) is built once. Swapping catalogs is replacing one
reference (`Engine.swap_catalog`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from decision.errors import CatalogInvalid
from decision.forecast import ScheduledEvent
from decision.pod import Creative, HlsVariant, MediaRendition
from decision.request import RATINGS
from decision.targeting import validate_expr

TIERS = ("sponsorship", "standard", "programmatic", "house")
TIER_RANK = {"sponsorship": 4, "standard": 3, "programmatic": 2, "house": 1}
GOALS = ("CPM", "CPCV")
PACING_MODES = ("even", "frontloaded", "asap")
CAP_SCOPES = ("creative", "line_item", "campaign", "advertiser")
WINDOW_SECONDS: Mapping[str, float | None] = {
    "minute": 60.0, "hour": 3600.0, "day": 86400.0, "week": 7 * 86400.0, "lifetime": None,
}
SESSION_WINDOWS = ("pod", "stream")
CAP_WINDOWS = (*WINDOW_SECONDS, *SESSION_WINDOWS)
POSITIONS = ("first", "last")
_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


@dataclass(frozen=True, slots=True)
class Advertiser:
    id: str
    name: str
    domain: str
    iab_category: str


@dataclass(frozen=True, slots=True)
class Campaign:
    id: str
    advertiser_id: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class FrequencyCap:
    n: int
    window: str  # minute | hour | day | week | lifetime | pod | stream
    scope: str = "line_item"  # creative | line_item | campaign | advertiser


@dataclass(frozen=True, slots=True)
class Daypart:
    """Active on `days` (0 = Monday) from `start_hour` (inclusive) to `end_hour` (exclusive)."""

    days: tuple[int, ...]
    start_hour: int
    end_hour: int


@dataclass(frozen=True, slots=True)
class LineItem:
    id: str
    campaign_id: str
    advertiser_id: str
    tier: str
    goal: str
    rate_micros: int
    start: float
    end: float
    name: str = ""
    dayparts: tuple[Daypart, ...] = ()
    daily_budget_micros: int | None = None
    lifetime_budget_micros: int | None = None
    pacing: str = "even"
    caps: tuple[FrequencyCap, ...] = ()
    targeting: Any = None
    exclusion_labels: tuple[str, ...] = ()
    allowed_ratings: tuple[str, ...] | None = None
    position: str | None = None
    creative_ids: tuple[str, ...] = ()
    prior_completion: float = 0.9
    prior_ctr: float = 0.002

    @property
    def programmatic(self) -> bool:
        return self.tier == "programmatic"


@dataclass(frozen=True, slots=True, eq=False)
class Candidate:
    index: int
    line_item: LineItem
    creative: Creative
    campaign: Campaign
    advertiser: Advertiser
    # the line item's caps resolved for this creative: (n, window, scope, entity id)
    cap_specs: tuple[tuple[int, str, str, str], ...] = ()

    def __repr__(self) -> str:
        return f"Candidate({self.line_item.id}/{self.creative.id})"


@dataclass(frozen=True, slots=True)
class FloorRule:
    """A price floor for requests matching every given field (None: any)."""

    cpm_micros: int = 0
    per_second_micros: int = 0
    channel: str | None = None
    genre: str | None = None
    daypart: str | None = None
    rating: str | None = None


@dataclass(frozen=True, eq=False)
class CatalogSnapshot:
    """Immutable once built. `candidates[i]` is the i-th (line item, creative) pair;
    `line_items[j]` the j-th line item; the arrays below are aligned with them."""

    version: str
    advertisers: Mapping[str, Advertiser]
    campaigns: Mapping[str, Campaign]
    creatives: Mapping[str, Creative]
    line_items: tuple[LineItem, ...]
    floors: tuple[FloorRule, ...]
    tz_offset_s: float
    candidates: tuple[Candidate, ...] = ()
    line_item_index: Mapping[str, int] = field(default_factory=dict)
    creative_advertiser: Mapping[str, str] = field(default_factory=dict)
    # (scope, entity id) -> store windows any line item caps that entity by: what an
    # impression must count (decision/caps.py)
    counted_windows: Mapping[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    index: Any = None  # decision.index.TargetingIndex
    arrays: Any = None  # decision.index.CatalogArrays
    # scheduled programmes that move traffic (a live game): the pacing forecast's calendar
    traffic_events: tuple[ScheduledEvent, ...] = ()

    def line_item(self, line_item_id: str) -> LineItem:
        return self.line_items[self.line_item_index[line_item_id]]


# -- parsing ---------------------------------------------------------------------------

class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.items.append(f"{path}: {message}")


def _time(value: Any, path: str, problems: _Problems) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            problems.add(path, f"not an ISO 8601 time: {value!r}")
            return None
        if dt.tzinfo is None:
            problems.add(path, "time needs a UTC offset (e.g. 2026-01-01T00:00:00Z)")
            return None
        return dt.timestamp()
    problems.add(path, "must be an ISO 8601 string or epoch seconds")
    return None


def _get(obj: Mapping[str, Any], key: str, kind: type | tuple[type, ...], path: str, problems: _Problems,
         *, required: bool = True, default: Any = None) -> Any:
    if key not in obj or obj[key] is None:
        if required:
            problems.add(f"{path}.{key}", "required")
        return default
    value = obj[key]
    if kind is int and isinstance(value, bool) or not isinstance(value, kind):
        name = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        problems.add(f"{path}.{key}", f"must be {name}, got {type(value).__name__}")
        return default
    return value


def _id(obj: Mapping[str, Any], path: str, problems: _Problems, seen: set[str]) -> str | None:
    value = _get(obj, "id", str, path, problems)
    if value is None:
        return None
    if not _ID.match(value):
        problems.add(f"{path}.id", f"invalid id {value!r} (letters, digits, _.:- only)")
    if value in seen:
        problems.add(f"{path}.id", f"duplicate id {value!r}")
    seen.add(value)
    return value


def _rendition(obj: Any, path: str, problems: _Problems) -> MediaRendition | None:
    if not isinstance(obj, dict):
        problems.add(path, "must be an object")
        return None
    url = _get(obj, "url", str, path, problems)
    if url is None:
        return None
    return MediaRendition(
        url=url, mime=_get(obj, "mime", str, path, problems, required=False, default="video/mp4"),
        width=_get(obj, "width", int, path, problems, required=False, default=1920),
        height=_get(obj, "height", int, path, problems, required=False, default=1080),
        bitrate_kbps=_get(obj, "bitrate_kbps", int, path, problems, required=False, default=0),
        delivery=_get(obj, "delivery", str, path, problems, required=False, default="progressive"),
        codec=_get(obj, "codec", str, path, problems, required=False),
    )


def _creative(obj: Any, path: str, problems: _Problems, seen: set[str],
              advertisers: Mapping[str, Advertiser]) -> tuple[str, Creative] | None:
    if not isinstance(obj, dict):
        problems.add(path, "must be an object")
        return None
    cid = _id(obj, path, problems, seen)
    adv_id = _get(obj, "advertiser_id", str, path, problems)
    adv = advertisers.get(adv_id) if adv_id else None
    if adv_id and adv is None:
        problems.add(f"{path}.advertiser_id", f"unknown advertiser {adv_id!r}")
    duration = _get(obj, "duration_s", (int, float), path, problems)
    if duration is not None and not 0 < duration <= 300:
        problems.add(f"{path}.duration_s", f"must be in (0, 300], got {duration}")
    mezz = _rendition(obj["mezzanine"], f"{path}.mezzanine", problems) if obj.get("mezzanine") else None
    media_raw = _get(obj, "media", list, path, problems, required=False, default=[])
    media = tuple(m for i, raw in enumerate(media_raw) if (m := _rendition(raw, f"{path}.media[{i}]", problems)))
    variants = []
    for i, raw in enumerate(_get(obj, "hls_variants", list, path, problems, required=False, default=[])):
        vp = f"{path}.hls_variants[{i}]"
        if not isinstance(raw, dict):
            problems.add(vp, "must be an object")
            continue
        uri = _get(raw, "uri", str, vp, problems)
        bw = _get(raw, "bandwidth", int, vp, problems)
        res = raw.get("resolution")
        if res is not None and not (isinstance(res, list) and len(res) == 2 and all(isinstance(x, int) for x in res)):
            problems.add(f"{vp}.resolution", "must be [width, height]")
            res = None
        if uri is not None and bw is not None:
            variants.append(HlsVariant(uri, bw, tuple(res) if res else None, raw.get("codecs")))
    hls_url = _get(obj, "hls_url", str, path, problems, required=False)
    vast_tag = _get(obj, "vast_tag_url", str, path, problems, required=False)
    if vast_tag is None and not media and hls_url is None:
        problems.add(path, "a creative needs media renditions, an hls_url or a vast_tag_url")
    if hls_url is not None and not variants:
        problems.add(f"{path}.hls_variants", "an hls_url needs its variants")
    if cid is None or adv is None or duration is None:
        return None
    return adv_id, Creative(
        id=cid, duration_s=float(duration), advertiser_domain=adv.domain,
        iab_category=_get(obj, "iab_category", str, path, problems, required=False, default=adv.iab_category),
        universal_ad_id=_get(obj, "universal_ad_id", str, path, problems, required=False, default=""),
        title=_get(obj, "title", str, path, problems, required=False, default=""),
        click_through=_get(obj, "click_through", str, path, problems, required=False),
        mezzanine=mezz, media=media, hls_url=hls_url, hls_variants=tuple(variants), vast_tag_url=vast_tag,
    )


def _objects(raw: Any, path: str, problems: _Problems) -> Iterator[tuple[str, dict]]:
    """The objects of an optional list field, each with its path (`path[i]`); a missing
    field is empty, and what is not a list, or not an object in it, is a problem."""
    if raw is None:
        return
    if not isinstance(raw, list):
        problems.add(path, "must be a list")
        return
    for i, item in enumerate(raw):
        item_path = f"{path}[{i}]"
        if isinstance(item, dict):
            yield item_path, item
        else:
            problems.add(item_path, "must be an object")


def _caps(raw: Any, path: str, problems: _Problems) -> tuple[FrequencyCap, ...]:
    caps = []
    for cp, c in _objects(raw, path, problems):
        n = _get(c, "n", int, cp, problems)
        window = _get(c, "per", str, cp, problems)
        scope = _get(c, "scope", str, cp, problems, required=False, default="line_item")
        ok = True
        if n is not None and n < 1:
            problems.add(f"{cp}.n", f"must be >= 1, got {n}")
            ok = False
        if window is not None and window not in CAP_WINDOWS:
            problems.add(f"{cp}.per", f"unknown window {window!r} (one of {', '.join(CAP_WINDOWS)})")
            ok = False
        if scope is not None and scope not in CAP_SCOPES:
            problems.add(f"{cp}.scope", f"unknown scope {scope!r} (one of {', '.join(CAP_SCOPES)})")
            ok = False
        if ok and n is not None and window is not None and scope is not None:
            caps.append(FrequencyCap(n, window, scope))
    return tuple(caps)


def _dayparts(raw: Any, path: str, problems: _Problems) -> tuple[Daypart, ...]:
    out = []
    for dp, d in _objects(raw, path, problems):
        days = _get(d, "days", list, dp, problems, required=False, default=list(range(7)))
        start = _get(d, "start_hour", int, dp, problems, required=False, default=0)
        end = _get(d, "end_hour", int, dp, problems, required=False, default=24)
        if not all(isinstance(x, int) and 0 <= x <= 6 for x in days):
            problems.add(f"{dp}.days", "days are integers 0 (Monday) .. 6 (Sunday)")
            continue
        if not 0 <= start < end <= 24:
            problems.add(dp, f"need 0 <= start_hour < end_hour <= 24, got {start}..{end}")
            continue
        out.append(Daypart(tuple(days), start, end))
    return tuple(out)


def _line_item(obj: Any, path: str, problems: _Problems, seen: set[str], campaigns: Mapping[str, Campaign],
               creatives: Mapping[str, Creative], creative_adv: Mapping[str, str]) -> LineItem | None:
    if not isinstance(obj, dict):
        problems.add(path, "must be an object")
        return None
    before = len(problems.items)
    lid = _id(obj, path, problems, seen)
    camp_id = _get(obj, "campaign_id", str, path, problems)
    camp = campaigns.get(camp_id) if camp_id else None
    if camp_id and camp is None:
        problems.add(f"{path}.campaign_id", f"unknown campaign {camp_id!r}")
    tier = _get(obj, "tier", str, path, problems)
    if tier is not None and tier not in TIERS:
        problems.add(f"{path}.tier", f"unknown tier {tier!r} (one of {', '.join(TIERS)})")
    goal = _get(obj, "goal", str, path, problems, required=False, default="CPM")
    if goal not in GOALS:
        problems.add(f"{path}.goal", f"unknown goal {goal!r} (one of {', '.join(GOALS)})")
    rate = _get(obj, "rate_micros", int, path, problems)
    if rate is not None and rate < 0:
        problems.add(f"{path}.rate_micros", "must be >= 0")
    pacing = _get(obj, "pacing", str, path, problems, required=False, default="even")
    if pacing not in PACING_MODES:
        problems.add(f"{path}.pacing", f"unknown pacing {pacing!r} (one of {', '.join(PACING_MODES)})")
    flight = _get(obj, "flight", dict, path, problems) or {}
    start = _time(flight.get("start"), f"{path}.flight.start", problems) if "start" in flight else None
    end = _time(flight.get("end"), f"{path}.flight.end", problems) if "end" in flight else None
    if flight and ("start" not in flight or "end" not in flight):
        problems.add(f"{path}.flight", "needs start and end")
    if start is not None and end is not None and end <= start:
        problems.add(f"{path}.flight", "end must be after start")
    budget = _get(obj, "budget", dict, path, problems, required=False, default={})
    daily = _get(budget, "daily_micros", int, f"{path}.budget", problems, required=False)
    lifetime = _get(budget, "lifetime_micros", int, f"{path}.budget", problems, required=False)
    for name, value in (("daily_micros", daily), ("lifetime_micros", lifetime)):
        if value is not None and value < 0:
            problems.add(f"{path}.budget.{name}", "must be >= 0")
    targeting = obj.get("targeting")
    for p in validate_expr(targeting, f"{path}.targeting"):
        problems.items.append(p)
    labels = _get(obj, "exclusion_labels", list, path, problems, required=False, default=[])
    if not all(isinstance(x, str) for x in labels):
        problems.add(f"{path}.exclusion_labels", "must be a list of strings")
        labels = []
    ratings = _get(obj, "allowed_ratings", list, path, problems, required=False)
    if ratings is not None:
        bad = [r for r in ratings if r not in RATINGS]
        if bad:
            problems.add(f"{path}.allowed_ratings", f"unknown rating(s) {bad} (one of {', '.join(RATINGS)})")
    position = _get(obj, "position", str, path, problems, required=False)
    if position is not None and position not in POSITIONS:
        problems.add(f"{path}.position", f"must be first or last, got {position!r}")
    creative_ids = _get(obj, "creative_ids", list, path, problems, default=[])
    if not creative_ids and "creative_ids" in obj:
        problems.add(f"{path}.creative_ids", "needs at least one creative")
    for i, cid in enumerate(creative_ids):
        if cid not in creatives:
            problems.add(f"{path}.creative_ids[{i}]", f"unknown creative {cid!r}")
        elif camp is not None and creative_adv.get(cid) != camp.advertiser_id:
            problems.add(f"{path}.creative_ids[{i}]",
                         f"creative {cid!r} belongs to advertiser {creative_adv.get(cid)!r}, not {camp.advertiser_id!r}")
        elif tier == "programmatic" and not creatives[cid].vast_tag_url:
            problems.add(f"{path}.creative_ids[{i}]", f"programmatic line items need creatives with a vast_tag_url ({cid!r})")
        elif tier is not None and tier != "programmatic" and creatives[cid].vast_tag_url:
            problems.add(f"{path}.creative_ids[{i}]", f"creative {cid!r} is a third-party tag: only programmatic line items may use it")
    priors = _get(obj, "priors", dict, path, problems, required=False, default={})
    completion = _get(priors, "completion", (int, float), f"{path}.priors", problems, required=False, default=0.9)
    ctr = _get(priors, "ctr", (int, float), f"{path}.priors", problems, required=False, default=0.002)
    for name, value in (("completion", completion), ("ctr", ctr)):
        if not 0 <= value <= 1:
            problems.add(f"{path}.priors.{name}", f"must be a probability, got {value}")
    caps = _caps(obj.get("caps"), f"{path}.caps", problems)
    dayparts = _dayparts(obj.get("dayparts"), f"{path}.dayparts", problems)
    if len(problems.items) > before:
        return None
    assert lid and camp and tier and rate is not None and start is not None and end is not None
    return LineItem(
        id=lid, campaign_id=camp.id, advertiser_id=camp.advertiser_id, tier=tier, goal=goal,
        rate_micros=rate, start=start, end=end, name=obj.get("name") or "", dayparts=dayparts,
        daily_budget_micros=daily, lifetime_budget_micros=lifetime, pacing=pacing, caps=caps,
        targeting=targeting, exclusion_labels=tuple(labels),
        allowed_ratings=tuple(ratings) if ratings is not None else None, position=position,
        creative_ids=tuple(creative_ids), prior_completion=float(completion), prior_ctr=float(ctr),
    )


def _floors(raw: Any, problems: _Problems) -> tuple[FloorRule, ...]:
    out = []
    for fp, f in _objects(raw, "floors", problems):
        unknown = set(f) - {"cpm_micros", "per_second_micros", "channel", "genre", "daypart", "rating"}
        if unknown:
            problems.add(fp, f"unknown field(s) {sorted(unknown)}")
        cpm = _get(f, "cpm_micros", int, fp, problems, required=False, default=0)
        per_s = _get(f, "per_second_micros", int, fp, problems, required=False, default=0)
        out.append(FloorRule(cpm, per_s, f.get("channel"), (f.get("genre") or None) and str(f["genre"]).lower(),
                             f.get("daypart"), f.get("rating")))
    return tuple(out)


def _traffic_events(raw: Any, problems: _Problems) -> tuple[ScheduledEvent, ...]:
    """`traffic_events`: [{"name", "start", "end", "factor"}], the scheduled events the
    pacing forecast plans for (`factor` x the usual traffic between start and end)."""
    out = []
    for path, ev in _objects(raw, "traffic_events", problems):
        start = _time(ev.get("start"), f"{path}.start", problems)
        end = _time(ev.get("end"), f"{path}.end", problems)
        factor = ev.get("factor")
        name = ev.get("name", "")
        if not isinstance(factor, int | float) or isinstance(factor, bool) or not 0 < factor <= 100:
            problems.add(f"{path}.factor", "must be a number in (0, 100]")
            continue
        if not isinstance(name, str):
            problems.add(f"{path}.name", "must be a string")
            continue
        if start is None or end is None:
            continue
        if end <= start:
            problems.add(f"{path}.end", "must be after start")
            continue
        out.append(ScheduledEvent(start, end, float(factor), name))
    return tuple(out)


def parse_catalog(doc: Any) -> CatalogSnapshot:
    """Validate a catalog document (parsed JSON) and build its snapshot."""
    problems = _Problems()
    if not isinstance(doc, dict):
        raise CatalogInvalid(["catalog: must be a JSON object"])
    version = doc.get("version")
    if not isinstance(version, str) or not version:
        problems.add("version", "required (a non-empty string)")
    tz_offset_min = doc.get("tz_offset_minutes", 0)
    if not isinstance(tz_offset_min, int) or isinstance(tz_offset_min, bool) or abs(tz_offset_min) > 14 * 60:
        problems.add("tz_offset_minutes", "must be an integer within ±840")
        tz_offset_min = 0
    sections = {}
    for name in ("advertisers", "campaigns", "creatives", "line_items"):
        value = doc.get(name)
        if not isinstance(value, list):
            problems.add(name, "required (a list)")
            value = []
        sections[name] = value

    advertisers: dict[str, Advertiser] = {}
    seen: set[str] = set()
    for i, a in enumerate(sections["advertisers"]):
        path = f"advertisers[{i}]"
        if not isinstance(a, dict):
            problems.add(path, "must be an object")
            continue
        aid = _id(a, path, problems, seen)
        name = _get(a, "name", str, path, problems)
        domain = _get(a, "domain", str, path, problems)
        cat = _get(a, "iab_category", str, path, problems)
        if aid and name is not None and domain is not None and cat is not None:
            advertisers[aid] = Advertiser(aid, name, domain.lower(), cat)

    campaigns: dict[str, Campaign] = {}
    seen = set()
    for i, c in enumerate(sections["campaigns"]):
        path = f"campaigns[{i}]"
        if not isinstance(c, dict):
            problems.add(path, "must be an object")
            continue
        cid = _id(c, path, problems, seen)
        adv = _get(c, "advertiser_id", str, path, problems)
        if adv is not None and adv not in advertisers:
            problems.add(f"{path}.advertiser_id", f"unknown advertiser {adv!r}")
        elif cid and adv:
            campaigns[cid] = Campaign(cid, adv, c.get("name") or "")

    creatives: dict[str, Creative] = {}
    creative_adv: dict[str, str] = {}
    seen = set()
    for i, c in enumerate(sections["creatives"]):
        parsed = _creative(c, f"creatives[{i}]", problems, seen, advertisers)
        if parsed:
            creative_adv[parsed[1].id] = parsed[0]
            creatives[parsed[1].id] = parsed[1]

    line_items: list[LineItem] = []
    seen = set()
    for i, li in enumerate(sections["line_items"]):
        parsed_li = _line_item(li, f"line_items[{i}]", problems, seen, campaigns, creatives, creative_adv)
        if parsed_li:
            line_items.append(parsed_li)
    floors = _floors(doc.get("floors"), problems)
    events = _traffic_events(doc.get("traffic_events"), problems)
    if problems.items:
        raise CatalogInvalid(problems.items)
    return build_snapshot(version, advertisers, campaigns, creatives, creative_adv, tuple(line_items), floors,
                          tz_offset_min * 60.0, events)


def build_snapshot(version: str, advertisers: Mapping[str, Advertiser], campaigns: Mapping[str, Campaign],
                   creatives: Mapping[str, Creative], creative_adv: Mapping[str, str],
                   line_items: tuple[LineItem, ...], floors: tuple[FloorRule, ...],
                   tz_offset_s: float = 0.0, traffic_events: tuple[ScheduledEvent, ...] = ()) -> CatalogSnapshot:
    from decision.index import CatalogArrays, TargetingIndex

    candidates = []
    for li in line_items:
        for cid in li.creative_ids:
            specs = tuple((cap.n, cap.window, cap.scope, _entity(li, cid, cap.scope)) for cap in li.caps)
            candidates.append(Candidate(len(candidates), li, creatives[cid], campaigns[li.campaign_id],
                                        advertisers[li.advertiser_id], specs))
    counted: dict[tuple[str, str], set[str]] = {}
    for li in line_items:
        for cap in li.caps:
            if cap.window in WINDOW_SECONDS:
                for entity in _cap_entities(li, cap.scope):
                    counted.setdefault((cap.scope, entity), set()).add(cap.window)
    snap = CatalogSnapshot(
        version=version, advertisers=dict(advertisers), campaigns=dict(campaigns), creatives=dict(creatives),
        line_items=line_items, floors=floors, tz_offset_s=tz_offset_s, candidates=tuple(candidates),
        line_item_index={li.id: i for i, li in enumerate(line_items)}, creative_advertiser=dict(creative_adv),
        counted_windows={k: tuple(sorted(v, key=list(WINDOW_SECONDS).index)) for k, v in counted.items()},
        traffic_events=tuple(traffic_events),
    )
    object.__setattr__(snap, "index", TargetingIndex.build(line_items))
    object.__setattr__(snap, "arrays", CatalogArrays.build(snap))
    return snap


def _cap_entities(li: LineItem, scope: str) -> tuple[str, ...]:
    if scope == "line_item":
        return (li.id,)
    if scope == "campaign":
        return (li.campaign_id,)
    if scope == "advertiser":
        return (li.advertiser_id,)
    return li.creative_ids


def _entity(li: LineItem, creative_id: str, scope: str) -> str:
    if scope == "creative":
        return creative_id
    if scope == "line_item":
        return li.id
    if scope == "campaign":
        return li.campaign_id
    return li.advertiser_id


def cap_entity(candidate: Candidate, scope: str) -> str:
    """The entity a cap of `scope` counts for this candidate."""
    if scope == "creative":
        return candidate.creative.id
    if scope == "line_item":
        return candidate.line_item.id
    if scope == "campaign":
        return candidate.line_item.campaign_id
    return candidate.line_item.advertiser_id


def load_catalog(path: str | Path) -> CatalogSnapshot:
    try:
        doc = orjson.loads(Path(path).read_bytes())
    except OSError as exc:
        raise CatalogInvalid([f"{path}: cannot read: {exc}"]) from exc
    except orjson.JSONDecodeError as exc:
        raise CatalogInvalid([f"{path}: not JSON: {exc}"]) from exc
    return parse_catalog(doc)


def loads_catalog(data: bytes | str) -> CatalogSnapshot:
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise CatalogInvalid([f"catalog: not JSON: {exc}"]) from exc
    return parse_catalog(doc)


__all__ = [
    "Advertiser", "Campaign", "Candidate", "CatalogSnapshot", "Daypart", "FloorRule", "FrequencyCap",
    "LineItem", "TIERS", "TIER_RANK", "build_snapshot", "cap_entity", "load_catalog", "loads_catalog",
    "parse_catalog",
]
