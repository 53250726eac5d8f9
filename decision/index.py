"""Retrieval: the targeting index of a catalog snapshot, and the per-snapshot arrays the
vectorised filters read.

Each line item's expression is split into its top-level conjuncts: a disjunction of
positive literals becomes a clause in posting lists keyed by (attribute, value); a
negated one becomes an exclusion posting; anything else is a residual evaluated exactly,
only for line items the postings (and the other vectorised filters) already let through.
Per-snapshot filters are numpy bool vectors over line items or candidates (bitsets).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from decision.request import RATINGS
from decision.targeting import Context, compile_expr, literal_values, uses_attribute

if TYPE_CHECKING:
    from decision.catalog import CatalogSnapshot, LineItem


def _conjuncts(expr: Any) -> list[Any]:
    if isinstance(expr, dict) and "all" in expr:
        out = []
        for sub in expr["all"]:
            out += _conjuncts(sub)
        return out
    return [] if expr is None or expr is True else [expr]


def _clause(expr: Any) -> list[tuple[str, frozenset[str]]] | None:
    """The literals of a disjunction of positive literals (possibly over several
    attributes), else None."""
    if not isinstance(expr, dict):
        return None
    op = next(iter(expr))
    if op in ("in", "eq"):
        return [literal_values(expr)]  # type: ignore[list-item]
    if op == "any" and expr["any"]:
        out: list[tuple[str, frozenset[str]]] = []
        for sub in expr["any"]:
            part = _clause(sub)
            if part is None:
                return None
            out += part
        return out
    return None


@dataclass(frozen=True, eq=False)
class TargetingIndex:
    """A conjunctive-normal-form index. Every line item's expression becomes clauses
    (each a disjunction of attribute=value literals) that must all hold, negated literals
    that must all fail, and, when neither captures it, a residual predicate.

    Clauses on one attribute (nearly all of them) live in per-attribute bitsets:
    `unconstrained[attr]` (line items without such a clause) and `pos[attr][value]`, so
    an attribute costs one OR per request value and one AND. Clauses spanning attributes
    are counted: `multi[(attr, value)]` lists the clause ids a literal satisfies, and a
    line item needs all of its `multi_required` clauses satisfied. `neg[(attr, value)]`
    lists the line items a literal excludes. The work follows the request's literals and
    the posting lengths, never the number of expressions."""

    size: int
    attrs: tuple[str, ...]
    unconstrained: dict[str, np.ndarray]
    pos: dict[str, dict[str, np.ndarray]]
    multi_li: np.ndarray
    multi_required: np.ndarray
    multi: dict[tuple[str, str], np.ndarray]
    neg: dict[tuple[str, str], np.ndarray]
    residual: np.ndarray
    predicates: tuple[Any, ...]
    _accs: dict[tuple[str, str], np.ndarray] = field(default_factory=dict, repr=False)
    _flags: dict[str, bool] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, line_items: Sequence[LineItem]) -> TargetingIndex:
        n = len(line_items)
        single: dict[str, dict[str, list[int]]] = {}
        constrained: dict[str, list[int]] = {}
        multi_li: list[int] = []
        multi_required = np.zeros(n, dtype=np.int64)
        multi: dict[tuple[str, str], list[int]] = {}
        neg: dict[tuple[str, str], list[int]] = {}
        residual = np.zeros(n, dtype=bool)
        predicates: list[Any] = []
        for i, li in enumerate(line_items):
            predicates.append(compile_expr(li.targeting))
            mine: dict[str, frozenset[str]] = {}
            for c in _conjuncts(li.targeting):
                if c is False:
                    residual[i] = True
                    continue
                lits = _clause(c)
                if lits is not None:
                    attrs = {a for a, _ in lits}
                    if len(attrs) == 1 and (attr := next(iter(attrs))) not in mine:
                        mine[attr] = frozenset().union(*(v for _, v in lits))
                        continue
                    cid = len(multi_li)
                    multi_li.append(i)
                    multi_required[i] += 1
                    for attr, values in lits:
                        for v in values:
                            multi.setdefault((attr, v), []).append(cid)
                    continue
                if isinstance(c, dict) and "not" in c:
                    lits = _clause(c["not"])
                    if lits is not None:
                        for attr, values in lits:
                            for v in values:
                                neg.setdefault((attr, v), []).append(i)
                        continue
                residual[i] = True
            for attr, values in mine.items():
                constrained.setdefault(attr, []).append(i)
                for v in values:
                    single.setdefault(attr, {}).setdefault(v, []).append(i)

        def vec(idx: list[int], fill: bool = False) -> np.ndarray:
            a = np.full(n, fill, dtype=bool)
            a[idx] = not fill
            return a

        attrs = tuple(sorted(constrained))
        return cls(
            size=n, attrs=attrs,
            unconstrained={a: vec(constrained[a], fill=True) for a in attrs},
            pos={a: {v: vec(ix) for v, ix in single.get(a, {}).items()} for a in attrs},
            multi_li=np.array(multi_li, dtype=np.int64), multi_required=multi_required,
            multi={k: np.unique(np.array(v, dtype=np.int64)) for k, v in multi.items()},
            neg={k: np.unique(np.array(v, dtype=np.int64)) for k, v in neg.items()},
            residual=residual, predicates=tuple(predicates),
        )

    def match(self, ctx: Context, within: np.ndarray | None = None) -> np.ndarray:
        """Bool vector over line items whose targeting matches `ctx`. Residual
        predicates are evaluated only where `within` (when given) is also true."""
        m = np.ones(self.size, dtype=bool) if within is None else within.copy()
        accs = self._accs
        for attr in self.attrs:
            values = ctx.get(attr, ())
            if len(values) == 1:
                (v,) = values
                acc = accs.get((attr, v))
                if acc is None:  # unconstrained | pos[v], built once per literal the requests use
                    pos = self.pos[attr].get(v)
                    acc = self.unconstrained[attr] if pos is None else self.unconstrained[attr] | pos
                    if len(accs) > 65_536:
                        accs.clear()
                    accs[(attr, v)] = acc
                m &= acc
                continue
            pos = self.pos[attr]
            hits = [pos[v] for v in values if v in pos]
            acc = self.unconstrained[attr]
            if hits:
                acc = acc | hits[0]
                for h in hits[1:]:
                    acc |= h
            m &= acc
        if len(self.multi_li):
            sat = np.zeros(len(self.multi_li), dtype=bool)
            for attr, values in ctx.items():
                for v in values:
                    hit = self.multi.get((attr, v))
                    if hit is not None:
                        sat[hit] = True
            m &= np.bincount(self.multi_li[sat], minlength=self.size) == self.multi_required
        for attr, values in ctx.items():
            for v in values:
                out = self.neg.get((attr, v))
                if out is not None:
                    m[out] = False
        res = np.flatnonzero(m & self.residual) if self.has_residual else ()
        for i in res:
            if not self.predicates[i](ctx):
                m[i] = False
        return m

    @property
    def has_residual(self) -> bool:
        return bool(self._flags.setdefault("residual", bool(self.residual.any())))


@dataclass(frozen=True, eq=False)
class CatalogArrays:
    """Numbers of the snapshot as vectors. `li_*` align with `snapshot.line_items`,
    `c_*` with `snapshot.candidates`."""

    li_start: np.ndarray
    li_end: np.ndarray
    li_hours: np.ndarray  # (n_line_items, 168) active hour-of-week (0 = Monday 00h)
    li_uses_segments: np.ndarray
    li_rating_ok: dict[str | None, np.ndarray]
    c_li: np.ndarray
    c_duration: np.ndarray
    c_tier_rank: np.ndarray
    c_rate: np.ndarray
    c_cpcv: np.ndarray
    c_deliverable: np.ndarray
    c_ub_ecpm: np.ndarray  # an upper bound of the eCPM (CPCV at p(complete) = 1)
    c_prior_completion: np.ndarray
    c_prior_ctr: np.ndarray

    @classmethod
    def build(cls, snap: CatalogSnapshot) -> CatalogArrays:
        from decision.catalog import TIER_RANK

        lis = snap.line_items
        n = len(lis)
        hours = np.zeros((n, 168), dtype=bool)
        for i, li in enumerate(lis):
            if not li.dayparts:
                hours[i, :] = True
            for dp in li.dayparts:
                for d in dp.days:
                    hours[i, d * 24 + dp.start_hour: d * 24 + dp.end_hour] = True
        rating_ok: dict[str | None, np.ndarray] = {
            r: np.array([li.allowed_ratings is None or r in li.allowed_ratings for li in lis], dtype=bool)
            for r in RATINGS
        }
        rating_ok[None] = np.array([li.allowed_ratings is None for li in lis], dtype=bool)
        cands = snap.candidates
        rate = np.array([c.line_item.rate_micros for c in cands], dtype=np.float64)
        cpcv = np.array([c.line_item.goal == "CPCV" for c in cands], dtype=bool)
        return cls(
            li_start=np.array([li.start for li in lis], dtype=np.float64),
            li_end=np.array([li.end for li in lis], dtype=np.float64),
            li_hours=hours,
            li_uses_segments=np.array([uses_attribute(li.targeting, "segment") for li in lis], dtype=bool),
            li_rating_ok=rating_ok,
            c_li=np.array([snap.line_item_index[c.line_item.id] for c in cands], dtype=np.int64),
            c_duration=np.array([c.creative.duration_s for c in cands], dtype=np.float64),
            c_tier_rank=np.array([TIER_RANK[c.line_item.tier] for c in cands], dtype=np.int64),
            c_rate=rate,
            c_cpcv=cpcv,
            c_deliverable=np.array([bool(c.creative.media or c.creative.hls_url or c.creative.vast_tag_url)
                                    for c in cands], dtype=bool),
            c_ub_ecpm=np.where(cpcv, rate * 1000.0, rate),
            c_prior_completion=np.array([c.line_item.prior_completion for c in cands], dtype=np.float64),
            c_prior_ctr=np.array([c.line_item.prior_ctr for c in cands], dtype=np.float64),
        )
