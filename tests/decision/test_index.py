"""The targeting index agrees with evaluating every expression (Hypothesis)."""

from hypothesis import given, settings
from hypothesis import strategies as st

from decision.catalog import parse_catalog
from decision.targeting import compile_expr, validate_expr
from tests.decision.builders import adv, catalog, creative, li

VALUES = {
    "country": ["us", "ca", "mx"], "genre": ["drama", "news", "sports"], "device_type": ["ctv", "mobile"],
    "segment": ["a", "b", "c"], "live": ["true", "false"], "dma": ["501", "502"],
}
leaf = st.sampled_from(sorted(VALUES)).flatmap(
    lambda a: st.one_of(
        st.lists(st.sampled_from(VALUES[a]), min_size=1, max_size=2).map(lambda vs: {"in": [a, vs]}),
        st.sampled_from(VALUES[a]).map(lambda v: {"eq": [a, v]}),
    ))
expr = st.recursive(
    st.one_of(leaf, st.just(True), st.just(False)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda xs: {"all": xs}),
        st.lists(inner, max_size=3).map(lambda xs: {"any": xs}),
        inner.map(lambda x: {"not": x}),
    ),
    max_leaves=6,
)
context = st.fixed_dictionaries({
    a: (st.sets(st.sampled_from(vs), max_size=2) if a == "segment" else
        st.one_of(st.just(set()), st.sampled_from(vs).map(lambda v: {v})))
    for a, vs in VALUES.items()
}).map(lambda d: {k: frozenset(v) for k, v in d.items() if v})


@settings(max_examples=60, deadline=None)
@given(st.lists(expr, min_size=1, max_size=12), st.lists(context, min_size=1, max_size=5))
def test_index_matches_direct_evaluation(exprs, contexts):
    doc = catalog([adv("a")], [creative("c", "a")],
                  [li(f"l{i}", "a", ["c"], targeting=e) for i, e in enumerate(exprs)])
    snap = parse_catalog(doc)
    for ctx in contexts:
        got = snap.index.match(ctx)
        want = [compile_expr(e)(ctx) for e in exprs]
        assert list(got) == want, (exprs, ctx)


def test_expression_language():
    ctx = {"country": frozenset({"us"}), "segment": frozenset({"a", "b"}), "live": frozenset({"true"})}
    assert compile_expr({"in": ["country", ["US", "CA"]]})(ctx)
    assert compile_expr({"eq": ["live", True]})(ctx)
    assert not compile_expr({"not": {"in": ["segment", ["b", "z"]]}})(ctx)
    assert compile_expr({"all": []})(ctx) and not compile_expr({"any": []})(ctx)
    assert not compile_expr({"in": ["dma", ["501"]]})(ctx)  # a missing attribute matches no `in`
    assert compile_expr(None)(ctx)
    assert validate_expr({"in": ["country"]}) == ["targeting.in: must be [attribute, values]"]
    assert validate_expr({"any": [{"eq": ["colour", "red"]}]}) == ["targeting.any[0].eq: unknown attribute 'colour'"]
