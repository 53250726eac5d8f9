"""Policy and brand safety: what may run against which content, for which publisher.

- Kids content (`kids_ratings`, default TV-Y and TV-G) takes no creative of a sensitive
  IAB category (alcohol, pharma/health, gambling, dating, politics by default).
- Publisher blocklists of advertiser domains (a domain blocks its subdomains) and IAB
  categories (a category blocks its sub-categories, "IAB8" blocks "IAB8-5"), global and
  per channel.
- A line item's `allowed_ratings` restricts the content it runs in; an unrated request
  only takes line items without that restriction.
- Privacy: when the request is not personalised (lmt, GDPR without consent, CCPA
  opt-out) line items whose targeting reads audience segments are dropped, and the
  request's segments are never put in the targeting context.

Per-candidate verdicts are computed once per (snapshot, channel) as bool vectors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from decision.catalog import CatalogSnapshot

SENSITIVE_CATEGORIES = (
    "IAB8-5", "IAB8-18",  # alcohol: cocktails/beer, wine
    "IAB7",  # health & pharma
    "IAB9-7",  # gambling (card games / betting)
    "IAB14-1",  # dating
    "IAB11-4",  # politics
)


def category_in(category: str, listed: tuple[str, ...]) -> bool:
    return any(category == c or category.startswith(c + "-") for c in listed)


def domain_in(domain: str, listed: tuple[str, ...]) -> bool:
    return any(domain == d or domain.endswith("." + d) for d in listed)


@dataclass(frozen=True)
class PolicyConfig:
    kids_ratings: tuple[str, ...] = ("TV-Y", "TV-G")
    kids_blocked_categories: tuple[str, ...] = SENSITIVE_CATEGORIES
    blocked_domains: tuple[str, ...] = ()
    blocked_categories: tuple[str, ...] = ()
    channel_blocked_domains: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    channel_blocked_categories: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class CandidateVerdicts:
    kids_blocked: np.ndarray
    domain_blocked: np.ndarray
    category_blocked: np.ndarray


class Policy:
    def __init__(self, config: PolicyConfig | None = None) -> None:
        self.config = config or PolicyConfig()
        self._cache: dict[tuple[int, str | None], tuple[CatalogSnapshot, CandidateVerdicts]] = {}

    def is_kids(self, rating: str | None) -> bool:
        return rating is not None and rating in self.config.kids_ratings

    def verdicts(self, snapshot: CatalogSnapshot, channel: str | None) -> CandidateVerdicts:
        cfg = self.config
        if channel is not None and channel not in cfg.channel_blocked_domains \
                and channel not in cfg.channel_blocked_categories:
            channel = None
        key = (id(snapshot), channel)
        hit = self._cache.get(key)
        if hit is not None and hit[0] is snapshot:
            return hit[1]
        domains = cfg.blocked_domains + tuple(cfg.channel_blocked_domains.get(channel or "", ()))
        cats = cfg.blocked_categories + tuple(cfg.channel_blocked_categories.get(channel or "", ()))
        cands = snapshot.candidates
        verdicts = CandidateVerdicts(
            kids_blocked=np.array([category_in(c.creative.iab_category, cfg.kids_blocked_categories)
                                   or category_in(c.advertiser.iab_category, cfg.kids_blocked_categories)
                                   for c in cands], dtype=bool),
            domain_blocked=np.array([domain_in(c.creative.advertiser_domain, domains) for c in cands], dtype=bool),
            category_blocked=np.array([category_in(c.creative.iab_category, cats) for c in cands], dtype=bool),
        )
        if len(self._cache) > 32:
            self._cache.clear()
        self._cache[key] = (snapshot, verdicts)
        return verdicts
