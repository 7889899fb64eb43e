"""Random call sets: every report equals the pure-Python reference of METRICS.md, on both
ClickHouse backends (so the two also agree with each other)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.calls.phone_numbers import mask_number
from core.clickhouse import ClickHouse
from core.reports import queries as q
from core.reports.range import parse_range
from tests.support import metrics_reference as ref
from tests.support.report_data import load, report_filter

CLIENTS = ["+12125550101", "+12125550102", "+12125550103", "+12125550104", None]
EMPLOYEES = ["e1", "e2", "e3"]
ZONE = "America/New_York"
# 2026-03-07..09 local: 8 March has the spring-forward switch
ORIGIN = datetime(2026, 3, 7, 5, 0, tzinfo=UTC)
NOW = datetime(2026, 4, 1, tzinfo=UTC)


@st.composite
def uploads(draw: st.DrawFn) -> list[ref.RefCall]:
    calls = []
    for n in range(draw(st.integers(0, 30))):
        employee = draw(st.sampled_from(EMPLOYEES))
        kind = draw(st.sampled_from(ref.TYPES))
        duration = draw(st.sampled_from([0, 0, 1, 45, 600, 4000]))
        calls.append(
            ref.RefCall(
                key=(f"dev-{employee}", str(n)),
                employee=employee,
                client=draw(st.sampled_from(CLIENTS)),
                type=kind,
                # 3-hour slots over three days: ties and exact call-back window edges happen often
                started_at=ORIGIN + timedelta(hours=3 * draw(st.integers(0, 24))),
                duration_s=duration,
                name=draw(st.sampled_from([None, "Ann"])),
            )
        )
    resent = draw(st.lists(st.sampled_from(calls), max_size=5)) if calls else []
    # a re-upload may correct the duration; the latest version must win
    return calls + [
        ref.RefCall(
            c.key,
            c.employee,
            c.client,
            c.type,
            c.started_at,
            draw(st.sampled_from([0, 30])),
            c.name,
        )
        for c in resent
    ]


def number(client: str) -> str:
    return mask_number(client)


def strip(
    items: list[dict[str, Any]], count_field: str, first: str, last: str
) -> list[tuple[Any, ...]]:
    return sorted(
        (i["number"], i[count_field], i[first], i[last], tuple(i["employee_ids"])) for i in items
    )


class Case(NamedTuple):
    sent: list[ref.RefCall]
    first_day: str
    days: int
    employees: tuple[str, ...]
    types: tuple[str, ...]
    hours: int


CASES = st.builds(
    Case,
    sent=uploads(),
    first_day=st.sampled_from(["2026-03-07", "2026-03-08"]),
    days=st.integers(0, 2),
    employees=st.sampled_from([(), ("e1",), ("e2", "e3")]),
    types=st.sampled_from([(), ("outgoing",), ("incoming", "missed")]),
    hours=st.sampled_from([1, 3]),
)
SHARED_STORE = [HealthCheck.function_scoped_fixture]


@pytest.fixture(params=["server", "sharded"])
def engine_store(request: pytest.FixtureRequest) -> ClickHouse:
    store: ClickHouse = request.getfixturevalue(f"{request.param}_store")
    return store


# Each example loads its own company, so sharing the session-wide stores is safe. The reports'
# logic is searched on chDB (45 random examples, new ones every run); the server and the
# two-shard cluster run the same SQL, so 15 examples each show an engine that answers
# otherwise (for the suite's budget: 135 examples took 100 s of it).
@settings(max_examples=45, suppress_health_check=SHARED_STORE)
@given(case=CASES)
def test_reports_match_the_reference(chdb_store: ClickHouse, case: Case) -> None:
    reports_match(chdb_store, case)


@settings(max_examples=15, suppress_health_check=SHARED_STORE)
@given(case=CASES)
def test_each_engine_answers_as_the_reference(engine_store: ClickHouse, case: Case) -> None:
    reports_match(engine_store, case)


def reports_match(report_store: ClickHouse, case: Case) -> None:
    sent, first_day, days, employees, types, hours = case
    company = load(report_store, sent, country="US")
    last_day = (datetime.fromisoformat(first_day) + timedelta(days=days)).date().isoformat()
    rng = parse_range(first_day, last_day, None, ZONE, NOW)
    zone = ZoneInfo(ZONE)
    final = ref.final_versions(sent)
    ranged = ref.in_range(final, rng.start, rng.end)
    chosen = set(employees) or None
    staff = [c for c in ranged if chosen is None or c.employee in chosen]
    selected = [c for c in staff if not types or c.type in types]
    f = report_filter(rng, employees, types)

    got = q.summary(company, f, rng)
    expected = ref.basic_counts(selected)
    assert {k: got[k] for k in expected} == expected
    never = ref.unattended(final, rng.start, rng.end, zone, "missed", chosen)
    not_picked = ref.unattended(final, rng.start, rng.end, zone, "outgoing", chosen)
    assert (got["never_attended"], got["not_picked_up"]) == (len(never), len(not_picked))
    working = ref.working_days(staff, zone)  # working hours ignore the type filter
    assert got["working_s"] == sum(row["working_s"] for row in working)
    longest = max((c.duration_s for c in selected if c.connected), default=None)
    assert (got["longest_call"] or {}).get("duration_s") == longest

    items, _ = q.never_attended(company, f, rng, q.Page(1000), None)
    assert strip(items, "missed_count", "first_missed_at", "last_missed_at") == sorted(
        (number(r["number"]), r["count"], r["first"], r["last"], tuple(r["employee_ids"]))
        for r in never
    )
    items, _ = q.not_picked_up(company, f, rng, q.Page(1000))
    assert strip(items, "attempts", "first_attempt_at", "last_attempt_at") == sorted(
        (number(r["number"]), r["count"], r["first"], r["last"], tuple(r["employee_ids"]))
        for r in not_picked
    )
    items, _ = q.never_attended(company, f, rng, q.Page(1000), hours)
    breaches = ref.callback_breaches(final, rng.start, rng.end, hours, chosen)
    assert {i["number"]: i["unanswered_count"] for i in items} == {
        number(k): v for k, v in breaches.items()
    }

    assert q.working_days(company, f, rng, q.Page(1000)) == (working, None)
    team = q.team_totals(company, f, rng)
    per_day = {day: [r for r in working if r["day"] == day] for day in {r["day"] for r in working}}
    assert [(d["day"], d["active_employees"], d["working_s"]) for d in team["days"]] == [
        (day, len(rows), sum(r["working_s"] for r in rows)) for day, rows in sorted(per_day.items())
    ]
    assert (team["employee_days"], team["talk_time_s"]) == (
        len(working),
        sum(r["talk_time_s"] for r in working),
    )
    items, _ = q.customers(company, f, rng, q.Page(1000))
    expected_customers = ref.customers(selected, zone)
    assert {
        i["number"]: {k: i[k] for k in next(iter(expected_customers.values()), {})} for i in items
    } == {number(k): v for k, v in expected_customers.items()}
    listed = sorted(chosen or EMPLOYEES)
    rows = q.employee_rows(company, f, rng, [{"id": e, "name": e, "team": None} for e in listed])
    expected_staff = ref.employees(selected, staff, zone, listed)
    assert {
        row["employee_id"]: {k: row[k] for k in expected_staff[row["employee_id"]]} for row in rows
    } == expected_staff
    by_day = ref.series_by_day(selected, rng.start, rng.end, zone)
    assert q.analytics(company, f, rng, "day") == by_day
    # for charts: the same buckets and counts, the distinct numbers left out
    assert q.analytics(company, f, rng, "day", unique_clients=False) == [
        {**bucket, "unique_clients": None} for bucket in by_day
    ]
    assert q.analytics(company, f, rng, "hour") == ref.series_by_hour(
        selected, rng.start, rng.end, zone
    )
