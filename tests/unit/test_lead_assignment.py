"""Lead assignment rules: round robin stays within one across any batches and opt-outs, and
continues where it stopped; least_loaded takes the fewest new leads, ties by employee id."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from api.leads.assignment import LeastLoaded, RoundRobin

STAFF = [f"e{index}" for index in range(6)]
# a step: a batch of leads, or an employee opting out of / back into auto-assignment
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("batch"), st.integers(1, 20)),
        st.tuples(st.sampled_from(["out", "in"]), st.sampled_from(STAFF)),
    ),
    max_size=25,
)


@given(STEPS, st.sampled_from([*STAFF, None]))
def test_round_robin_keeps_employees_present_throughout_within_one(
    steps: list[tuple[str, object]], start_after: str | None
) -> None:
    candidates = set(STAFF)
    ever_out: set[str] = set()
    last, counts = start_after, Counter[str]()
    for kind, value in steps:
        if kind == "batch":
            # a new request (or a restarted API): only the persisted `last` carries over
            assigner = RoundRobin(sorted(candidates), last)
            for _ in range(int(str(value))):
                employee = assigner.next()
                assert employee in candidates or (employee is None and not candidates)
                if employee is not None:
                    counts[employee] += 1
            last = assigner.last
        elif kind == "out":
            candidates.discard(str(value))
            ever_out.add(str(value))
        else:
            candidates.add(str(value))
    steady = [counts[e] for e in STAFF if e not in ever_out]
    if steady:
        assert max(steady) - min(steady) <= 1


@given(st.lists(st.integers(1, 30), min_size=1, max_size=10))
def test_round_robin_batches_add_up_to_one_long_batch(batches: list[int]) -> None:
    one = RoundRobin(STAFF)
    expected = [one.next() for _ in range(sum(batches))]
    got, last = [], None
    for size in batches:
        assigner = RoundRobin(STAFF, last)
        got += [assigner.next() for _ in range(size)]
        last = assigner.last
    assert got == expected


def test_round_robin_continues_after_an_employee_who_left() -> None:
    assert RoundRobin(["a", "c", "d"], last="b").next() == "c"
    assert RoundRobin(["a", "c"], last="d").next() == "a"
    assert RoundRobin([], last="a").next() is None


@given(st.dictionaries(st.sampled_from(STAFF), st.integers(0, 10), min_size=1), st.integers(1, 40))
def test_least_loaded_gives_each_lead_to_the_fewest_new_ties_by_id(
    loads: dict[str, int], count: int
) -> None:
    assigner = LeastLoaded(loads)
    current = dict(loads)
    for _ in range(count):
        expected = min(current, key=lambda e: (current[e], e))
        assert assigner.next() == expected
        current[expected] += 1
