"""Podding: choose and order the ads of one break to maximise total value.

Constraints: the sum of durations fits the break; at most `max_ads` ads; no ad longer
than `max_ad_duration_s`; at most one selected item per conflict key. The engine gives
every item the keys it must not share with another ad of the pod: its creative, its
advertiser, its IAB category and exclusion labels (separation), and the entities of its
pod-window frequency caps (a pod cap is "at most one per pod").

Exact solver ("dp"): items conflict only through shared keys, so the conflict graph
splits into components that are independent of each other. Inside a component we list
the feasible conflict-free subsets (only singletons for a clique, the common case of a
category or an advertiser) and keep the best subset per (ad count, seconds). Across
components it is a multiple-choice knapsack: a dynamic program over (ad count, seconds)
with one option or none per component. Durations are whole seconds (creatives rounded
up, the break down, so a pod never overruns) in units of their greatest common divisor.
Two pruning steps keep it exact: items with the same conflict keys are mutually
exclusive, so a longer item worth no more than a shorter one is dropped; and per
component only the best option for each (count, seconds) is kept.

When the subsets of a component are too many or the time box runs out, a greedy solver
("greedy") takes items by value. Underfill is left to the slate.

Order: highest value first, then items asking `first` move to the front and `last` to
the back (each group keeping value order).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from functools import reduce
from typing import Any, NamedTuple

EPS = 1e-6


class PodItem(NamedTuple):
    """One ad the solver may place. A named tuple, not a frozen dataclass: the engine
    builds dozens per break and a tuple costs a third of the time to construct."""

    ref: Any
    duration_s: float
    value: float
    conflicts: frozenset[Hashable]
    position: str | None = None  # first | last


@dataclass(frozen=True, slots=True)
class PodConstraints:
    duration_s: float
    max_ads: int = 6
    max_ad_duration_s: float | None = None


@dataclass(frozen=True, slots=True)
class PodSolution:
    items: tuple[PodItem, ...]
    solver: str

    @property
    def value(self) -> float:
        return sum(i.value for i in self.items)


class _Timeout(Exception):
    pass


def _units(d: float) -> int:
    return int(math.ceil(d - EPS))


def solve(items: Sequence[PodItem], constraints: PodConstraints, *, time_box_s: float | None = 0.005,
          max_subsets: int = 5000, clock: Callable[[], float] = time.perf_counter) -> PodSolution:
    limit = constraints.duration_s + EPS
    if constraints.max_ad_duration_s is not None:
        limit = min(limit, constraints.max_ad_duration_s + EPS)
    fitting = [i for i in items if 0 < i.duration_s <= limit and i.value > 0]
    if not fitting or constraints.max_ads < 1:
        return PodSolution((), "dp")
    try:
        chosen = _dp(fitting, constraints, time_box_s, max_subsets, clock)
        solver = "dp"
    except _Timeout:
        chosen = greedy(fitting, constraints)
        solver = "greedy"
    return PodSolution(order(chosen), solver)


def greedy(items: Sequence[PodItem], constraints: PodConstraints) -> list[PodItem]:
    chosen: list[PodItem] = []
    used: set[Hashable] = set()
    left = constraints.duration_s + EPS
    for it in sorted(items, key=lambda i: (-i.value, i.duration_s)):
        if len(chosen) >= constraints.max_ads:
            break
        if it.duration_s <= left and used.isdisjoint(it.conflicts):
            chosen.append(it)
            used |= it.conflicts
            left -= it.duration_s
    return chosen


def order(items: Sequence[PodItem]) -> tuple[PodItem, ...]:
    ranked = sorted(items, key=lambda i: -i.value)
    return tuple([i for i in ranked if i.position == "first"] + [i for i in ranked if i.position not in ("first", "last")]
                 + [i for i in ranked if i.position == "last"])


def _prune(items: Sequence[PodItem], units: dict[float, int]) -> list[PodItem]:
    groups: dict[frozenset[Hashable], list[PodItem]] = {}
    kept: list[PodItem] = []
    for it in items:
        if it.conflicts:
            group = groups.get(it.conflicts)
            if group is None:
                groups[it.conflicts] = [it]
            else:
                group.append(it)
        else:
            kept.append(it)
    for group in groups.values():
        if len(group) == 1:
            kept.append(group[0])
            continue
        best_units = math.inf
        for it in sorted(group, key=lambda i: (-i.value, i.duration_s)):
            u = units[it.duration_s]
            if u < best_units:
                kept.append(it)
                best_units = u
    return kept


class _Units(dict):
    """duration -> whole seconds, memoised (a break has a handful of distinct durations)."""

    def __missing__(self, d: float) -> int:
        u = self[d] = _units(d)
        return u


def _components(items: Sequence[PodItem]) -> list[list[PodItem]]:
    by_key: dict[Hashable, list[int]] = {}
    for n, it in enumerate(items):
        for k in it.conflicts:
            by_key.setdefault(k, []).append(n)
    seen = [False] * len(items)
    done_keys: set[Hashable] = set()
    comps: list[list[PodItem]] = []
    for n, it in enumerate(items):
        if seen[n]:
            continue
        seen[n] = True
        members = [n]
        stack = list(it.conflicts)
        while stack:
            k = stack.pop()
            if k in done_keys:
                continue
            done_keys.add(k)
            for m in by_key[k]:
                if not seen[m]:
                    seen[m] = True
                    members.append(m)
                    stack.extend(items[m].conflicts)
        # in the items' own order: a set's iteration order follows string hashes, which
        # differ per process, and ties between equal values must not depend on it
        comps.append([items[m] for m in sorted(members)])
    return comps


def _options(comp: list[PodItem], unit: int, max_units: int, max_ads: int, max_subsets: int,
             deadline: float | None, clock: Callable[[], float],
             whole: dict[float, int] | None = None) -> dict[tuple[int, int], tuple[float, tuple[PodItem, ...]]]:
    """Best conflict-free subset of the component per (count, units)."""
    if whole is None:
        whole = _Units()
    best: dict[tuple[int, int], tuple[float, tuple[PodItem, ...]]] = {}
    if len(comp) == 1 or reduce(lambda a, b: a & b, (i.conflicts for i in comp)):  # a clique: one item at most
        for it in comp:
            k = (1, whole[it.duration_s] // unit)
            if k[1] <= max_units:
                cur = best.get(k)
                if cur is None or it.value > cur[0]:
                    best[k] = (it.value, (it,))
        return best
    comp = sorted(comp, key=lambda i: -i.value)
    units = [whole[i.duration_s] // unit for i in comp]
    visited = 0

    def dfs(start: int, used: frozenset[Hashable], count: int, u: int, value: float, chosen: tuple[PodItem, ...]) -> None:
        nonlocal visited
        for j in range(start, len(comp)):
            it = comp[j]
            nu = u + units[j]
            if nu > max_units or not used.isdisjoint(it.conflicts):
                continue
            visited += 1
            if visited > max_subsets or (deadline is not None and visited % 256 == 0 and clock() > deadline):
                raise _Timeout
            key = (count + 1, nu)
            nv = value + it.value
            if key not in best or nv > best[key][0]:
                best[key] = (nv, (*chosen, it))
            if count + 1 < max_ads:
                dfs(j + 1, used | it.conflicts, count + 1, nu, nv, (*chosen, it))

    dfs(0, frozenset(), 0, 0, 0.0, ())
    return best


def _dp(items: Sequence[PodItem], constraints: PodConstraints, time_box_s: float | None, max_subsets: int,
        clock: Callable[[], float]) -> list[PodItem]:
    deadline = None if time_box_s is None else clock() + time_box_s
    whole = _Units()
    items = _prune(items, whole)
    break_units = int(math.floor(constraints.duration_s + EPS))
    unit = reduce(math.gcd, (whole[i.duration_s] for i in items), break_units) or 1
    max_units = break_units // unit
    max_ads = constraints.max_ads
    # state (count, units) -> (value, chain of chosen option tuples as a linked list). Dict
    # order is first-reached order: the final max keeps the first of equal values.
    states: dict[tuple[int, int], tuple[float, Any]] = {(0, 0): (0.0, None)}
    for comp in _components(items):
        if deadline is not None and clock() > deadline:
            raise _Timeout
        options = _options(comp, unit, max_units, max_ads, max_subsets, deadline, clock, whole)
        new = dict(states)
        old = list(states.items())
        for (oc, ou), (ov, oitems) in options.items():
            room_c, room_u = max_ads - oc, max_units - ou
            for (c, u), (v, chain) in old:
                if c > room_c or u > room_u:
                    continue
                nv = v + ov
                key = (c + oc, u + ou)
                cur = new.get(key)
                if cur is None or nv > cur[0]:
                    new[key] = (nv, (oitems, chain))
        states = new
    _, chain = max(states.values(), key=lambda s: s[0])
    chosen: list[PodItem] = []
    while chain is not None:
        chosen.extend(chain[0])
        chain = chain[1]
    return chosen
