"""Small catalog documents for tests: plain dicts in the catalog JSON format."""

from __future__ import annotations

import random
from typing import Any

from decision.catalog import parse_catalog
from decision.engine import Engine, EngineConfig
from store import MemoryStore

NOW = 1_780_000_000.0  # 2026-05-28T20:26:40Z, a Thursday
FLIGHT = {"start": "2026-01-01T00:00:00Z", "end": "2027-12-31T23:59:59Z"}
MEDIA = {10: "ad-10a", 15: "ad-15a", 20: "ad-20a", 30: "ad-30a"}


def adv(aid: str, cat: str = "IAB2", domain: str | None = None) -> dict[str, Any]:
    return {"id": aid, "name": aid.title(), "domain": domain or f"{aid}.example.com", "iab_category": cat}


def creative(cid: str, advertiser: str, dur: float = 15, **kw: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"id": cid, "advertiser_id": advertiser, "duration_s": dur}
    if "vast_tag_url" not in kw:
        name = MEDIA.get(int(dur), "ad-15a")
        doc["media"] = [{"url": f"/demo/ads/{name}.mp4", "width": 640, "height": 360, "bitrate_kbps": 1400}]
    doc.update(kw)
    return doc


def li(lid: str, advertiser: str, creatives: list[str], *, tier: str = "standard", rate: int = 10_000_000,
       **kw: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"id": lid, "campaign_id": f"cmp-{advertiser}", "tier": tier, "rate_micros": rate,
                           "flight": dict(FLIGHT), "creative_ids": creatives}
    doc.update(kw)
    return doc


def catalog(advertisers: list[dict], creatives: list[dict], line_items: list[dict], **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "version": "test-1", "advertisers": advertisers,
        "campaigns": [{"id": f"cmp-{a['id']}", "advertiser_id": a["id"]} for a in advertisers],
        "creatives": creatives, "line_items": line_items,
    }
    doc.update(extra)
    return doc


class VirtualClock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def engine(doc: dict[str, Any], *, store: Any = None, now: float = NOW, seed: int = 1, pacing: Any = None,
           scorer: Any = None, **config: Any) -> Engine:
    """An engine on a `VirtualClock` (`engine.clock.now += 60` moves time)."""
    return Engine(parse_catalog(doc), store=store if store is not None else MemoryStore(), clock=VirtualClock(now),
                  rng=random.Random(seed), pacing=pacing, scorer=scorer,
                  config=EngineConfig(podding_time_box_s=None, **config))
