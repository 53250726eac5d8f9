"""The targeting expression language: a small JSON boolean algebra over request attributes.

Grammar (every node is a one-key JSON object, or `true`/`false`/`null` = match all/none/all):

    {"all": [expr, ...]}          conjunction (empty list: true)
    {"any": [expr, ...]}          disjunction (empty list: false)
    {"not": expr}                 negation
    {"in":  [attr, [v1, v2, ...]]}   attribute value is one of the values
    {"eq":  [attr, v]}            shorthand for {"in": [attr, [v]]}

Attributes (`ATTRIBUTES`): country, region, dma, device_type, genre, rating, channel,
live (true/false), daypart (overnight, morning, daytime, early_fringe, prime, late),
dow (mon..sun), position (pre/mid/post) and segment (multi-valued: `in` matches when
any of the request's audience segments is listed). A missing attribute matches no `in`.
Values compare as lower-case strings, so `"US"` and `"us"` are the same country.

`compile_expr` validates and returns a `Predicate` (a closure over a context mapping of
attribute -> frozenset of lower-case values); `validate_expr` returns every problem.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

ATTRIBUTES = frozenset({
    "country", "region", "dma", "device_type", "genre", "rating", "channel", "live",
    "daypart", "dow", "position", "segment",
})
MULTI_VALUED = frozenset({"segment"})
DAYPARTS = (  # (name, start hour inclusive, end hour exclusive), publisher local time
    ("overnight", 0, 6), ("morning", 6, 10), ("daytime", 10, 16),
    ("early_fringe", 16, 19), ("prime", 19, 23), ("late", 23, 24),
)
DOW = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

Context = Mapping[str, frozenset[str]]
Predicate = Callable[[Context], bool]
EMPTY: frozenset[str] = frozenset()


def daypart_of(hour: int) -> str:
    for name, start, end in DAYPARTS:
        if start <= hour < end:
            return name
    raise ValueError(f"hour out of range: {hour}")


def norm(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).lower()


def validate_expr(expr: Any, path: str = "targeting") -> list[str]:
    """Every problem of `expr`, each prefixed with its JSON path."""
    if expr is None or isinstance(expr, bool):
        return []
    if not isinstance(expr, dict) or len(expr) != 1:
        return [f"{path}: an expression is an object with exactly one operator key"]
    (op, arg), = expr.items()
    if op in ("all", "any"):
        if not isinstance(arg, list):
            return [f"{path}.{op}: must be a list of expressions"]
        problems: list[str] = []
        for i, sub in enumerate(arg):
            problems += validate_expr(sub, f"{path}.{op}[{i}]")
        return problems
    if op == "not":
        return validate_expr(arg, f"{path}.not")
    if op in ("in", "eq"):
        if not isinstance(arg, list) or len(arg) != 2:
            return [f"{path}.{op}: must be [attribute, {'values' if op == 'in' else 'value'}]"]
        attr, values = arg
        problems = []
        if attr not in ATTRIBUTES:
            problems.append(f"{path}.{op}: unknown attribute {attr!r}")
        if op == "in":
            if not isinstance(values, list) or not values:
                problems.append(f"{path}.in: values must be a non-empty list")
            elif not all(isinstance(v, str | int | bool) for v in values):
                problems.append(f"{path}.in: values must be strings, numbers or booleans")
        elif not isinstance(values, str | int | bool):
            problems.append(f"{path}.eq: value must be a string, number or boolean")
        return problems
    return [f"{path}: unknown operator {op!r} (expected all, any, not, in, eq)"]


def literal_values(expr: dict[str, Any]) -> tuple[str, frozenset[str]] | None:
    """(attribute, values) for an `in`/`eq` leaf, else None."""
    (op, arg), = expr.items()
    if op == "in":
        return arg[0], frozenset(norm(v) for v in arg[1])
    if op == "eq":
        return arg[0], frozenset((norm(arg[1]),))
    return None


def compile_expr(expr: Any) -> Predicate:
    """A predicate for a validated expression."""
    if expr is None or expr is True:
        return _true
    if expr is False:
        return _false
    (op, arg), = expr.items()
    if op == "all":
        parts = tuple(compile_expr(e) for e in arg)
        return lambda ctx: all(p(ctx) for p in parts)
    if op == "any":
        parts = tuple(compile_expr(e) for e in arg)
        return lambda ctx: any(p(ctx) for p in parts)
    if op == "not":
        inner = compile_expr(arg)
        return lambda ctx: not inner(ctx)
    attr, values = literal_values(expr)  # type: ignore[misc]
    return lambda ctx: not values.isdisjoint(ctx.get(attr, EMPTY))


def uses_attribute(expr: Any, attr: str) -> bool:
    if not isinstance(expr, dict):
        return False
    (op, arg), = expr.items()
    if op in ("all", "any"):
        return any(uses_attribute(e, attr) for e in arg)
    if op == "not":
        return uses_attribute(arg, attr)
    return arg[0] == attr


def _true(ctx: Context) -> bool:
    return True


def _false(ctx: Context) -> bool:
    return False
