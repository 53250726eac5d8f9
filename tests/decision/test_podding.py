import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from decision.podding import PodConstraints, PodItem, greedy, order, solve


def item(name, dur, value, *keys, position=None):
    return PodItem(name, dur, value, frozenset(keys), position)


def feasible(items, c: PodConstraints):
    keys = [k for i in items for k in i.conflicts]
    return (sum(i.duration_s for i in items) <= c.duration_s + 1e-6 and len(items) <= c.max_ads
            and len(keys) == len(set(keys))
            and all(c.max_ad_duration_s is None or i.duration_s <= c.max_ad_duration_s for i in items))


def brute_force(items, c):
    best = 0.0
    for n in range(0, min(c.max_ads, len(items)) + 1):
        for combo in itertools.combinations(items, n):
            if feasible(combo, c):
                best = max(best, sum(i.value for i in combo))
    return best


def test_fills_the_break_with_the_best_value():
    items = [item("a30", 30, 50, "adv:a"), item("b15", 15, 30, "adv:b"), item("c15", 15, 28, "adv:c"),
             item("d10", 10, 5, "adv:d")]
    sol = solve(items, PodConstraints(30, 4), time_box_s=None)
    assert sol.solver == "dp"
    assert [i.ref for i in sol.items] == ["b15", "c15"]


def test_respects_max_ads_and_conflicts():
    items = [item(f"x{i}", 10, 10 - i, "cat:auto" if i < 3 else f"adv:{i}") for i in range(6)]
    sol = solve(items, PodConstraints(60, 3), time_box_s=None)
    assert len(sol.items) == 3
    assert sum(1 for i in sol.items if "cat:auto" in i.conflicts) == 1


def test_ordering_honours_first_and_last():
    items = [item("hi", 10, 100, "a"), item("last", 10, 90, "b", position="last"),
             item("first", 10, 10, "c", position="first"), item("mid", 10, 50, "d")]
    assert [i.ref for i in order(items)] == ["first", "hi", "mid", "last"]


def test_fractional_durations_never_overrun():
    items = [item("a", 15.4, 10, "a"), item("b", 15.0, 10, "b"), item("c", 14.6, 9, "c")]
    sol = solve(items, PodConstraints(30.0, 4), time_box_s=None)
    assert sum(i.duration_s for i in sol.items) <= 30.0


def test_greedy_fallback_when_the_time_box_is_gone():
    items = [item(f"i{n}", 5, n + 1, f"k{n % 7}", f"l{n % 5}") for n in range(40)]
    sol = solve(items, PodConstraints(30, 6), time_box_s=0.0)
    assert sol.solver == "greedy"
    assert feasible(sol.items, PodConstraints(30, 6))


pod_items = st.lists(
    st.builds(
        lambda n, d, v, keys: item(n, d, v, *keys),
        st.integers(0, 10_000).map(lambda n: f"i{n}"),
        st.sampled_from([5, 10, 15, 15.5, 20, 30, 45]),
        st.integers(1, 100).map(float),
        st.sets(st.sampled_from(["a1", "a2", "a3", "a4", "k1", "k2", "l1", "l2"]), max_size=3),
    ),
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(pod_items, st.sampled_from([15, 30, 60, 90, 120]), st.integers(1, 6), st.sampled_from([None, 20.0, 30.0]))
def test_dp_is_feasible_and_optimal(items, duration, max_ads, max_ad):
    c = PodConstraints(duration, max_ads, max_ad)
    sol = solve(items, c, time_box_s=None)
    assert sol.solver == "dp"
    assert feasible(sol.items, c)
    assert abs(sol.value - brute_force(items, c)) < 1e-6


@settings(max_examples=100, deadline=None)
@given(pod_items, st.sampled_from([15, 30, 60]), st.integers(1, 6))
def test_greedy_is_feasible(items, duration, max_ads):
    c = PodConstraints(duration, max_ads)
    assert feasible(greedy(items, c), c)


def test_components_keep_the_items_order_whatever_the_set_order():
    """Conflict keys sit in frozensets, whose iteration order follows string hashes (a
    per-process seed): a component lists its items in their given order, so ties
    between equal values resolve the same way in every process."""
    from decision.podding import _components

    a, b, c, d = item("a", 15, 5, "x"), item("b", 15, 5, "y"), item("c", 15, 5, "x", "y"), item("d", 15, 5, "z")
    assert _components([a, b, c, d]) == [[a, b, c], [d]]
    assert [i.ref for i in solve([a, b, c], PodConstraints(30, 2)).items] == ["a", "b"]
