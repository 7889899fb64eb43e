"""Hand-computed fixtures for every METRICS.md definition, on a Berlin DST day
(2026-03-29 has 23 hours), on both ClickHouse backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from core.calls.phone_numbers import mask_number
from core.clickhouse import ClickHouse
from core.company_clickhouse import CompanyClickHouse
from core.reports import queries as q
from core.reports.range import ReportRange, parse_range
from tests.support.metrics_reference import RefCall
from tests.support.report_data import load, report_filter

BERLIN = ZoneInfo("Europe/Berlin")
CET, CEST = timezone(timedelta(hours=1)), timezone(timedelta(hours=2))
A, B, C, D = (f"+4915112345{n}" for n in (671, 672, 673, 674))
NOW = datetime(2026, 4, 1, tzinfo=UTC)


def at(hour: int, minute: int = 0, day: int = 29) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=CET if (day, hour) == (29, 1) else CEST)


def call(
    n: str,
    employee: str,
    client: str | None,
    kind: str,
    start: datetime,
    duration: int,
    name: str | None = None,
) -> RefCall:
    return RefCall((f"dev-{employee}", n), employee, client, kind, start, duration, name)


UPLOADS = [
    call("a", "e1", A, "missed", at(9), 0),
    call("b", "e2", A, "outgoing", at(11), 60, "Ravi"),
    call("b", "e2", A, "outgoing", at(11), 120, "Ravi"),  # corrected later: the latest wins
    call("c", "e1", B, "incoming", at(8), 60, "Priya"),  # connected before B's missed call
    call("d", "e1", B, "missed", at(10), 0),
    call("e", "e1", C, "outgoing", at(12), 0),
    call("f", "e1", C, "outgoing", at(12, 30), 0),
    call("g", "e2", D, "rejected", at(13), 0),
    call("h", "e2", D, "outgoing", at(13, 5), 0),
    call("i", "e2", None, "incoming", at(14), 30),  # private number: in totals, no client
    call("j", "e2", A, "outgoing", at(23, 50), 1200),  # ends 00:10 the next local day
    call("k", "e1", B, "outgoing", at(1, 30), 0),  # before the DST switch, +01:00
    call("a", "e1", A, "missed", at(9), 0),  # re-sent
    call("x", "e1", B, "missed", at(9, day=30), 0),  # next day: only a missed call
]


@pytest.fixture
def company(report_store: ClickHouse) -> CompanyClickHouse:
    return load(report_store, UPLOADS, country="DE")


def day(first: str, last: str | None = None) -> ReportRange:
    return parse_range(first, last or first, None, "Europe/Berlin", NOW)


def test_summary(company: CompanyClickHouse) -> None:
    rng = day("2026-03-29")
    assert rng.end_ts - rng.start_ts == 23 * 3600
    got = q.summary(company, report_filter(rng), rng)
    assert got == {
        "total_calls": 11,
        "incoming": 2,
        "outgoing": 6,
        "missed": 2,
        "voicemail": 0,
        "rejected": 1,
        "blocked": 0,
        "answered_externally": 0,
        "connected": 4,
        "unanswered_outgoing": 4,
        "talk_time_s": 1410,
        "avg_talk_s": 352.5,
        "unique_clients": 4,
        "longest_call": {
            "id": got["longest_call"]["id"],
            "employee_id": "e2",
            "duration_s": 1200,
            "started_at": "2026-03-29T23:50:00+02:00",
            "number": mask_number(A),
            "name": None,
        },
        "never_attended": 2,
        "not_picked_up": 2,
        "working_s": 36000 + 47400,
    }


def test_never_attended(company: CompanyClickHouse) -> None:
    rng = day("2026-03-29")
    items, after = q.never_attended(company, report_filter(rng), rng, q.Page(10), None)
    assert after is None
    # A was called back by another employee; B's connected call came before its missed call
    assert items == [
        {
            "number": mask_number(D),
            "name": None,
            "missed_count": 1,
            "first_missed_at": "2026-03-29T13:00:00+02:00",
            "last_missed_at": "2026-03-29T13:00:00+02:00",
            "employee_ids": ["e2"],
        },
        {
            "number": mask_number(B),
            "name": "Priya",
            "missed_count": 1,
            "first_missed_at": "2026-03-29T10:00:00+02:00",
            "last_missed_at": "2026-03-29T10:00:00+02:00",
            "employee_ids": ["e1"],
        },
    ]
    only_e2, _ = q.never_attended(company, report_filter(rng, ("e2",)), rng, q.Page(10), None)
    assert [item["number"] for item in only_e2] == [mask_number(D)]


def test_lists_show_the_latest_known_name_even_from_before_the_range(
    company: CompanyClickHouse,
) -> None:
    rng = day("2026-03-30")
    items, _ = q.never_attended(company, report_filter(rng), rng, q.Page(10), None)
    assert [(item["number"], item["name"]) for item in items] == [(mask_number(B), "Priya")]


def test_never_attended_pages(company: CompanyClickHouse) -> None:
    rng = day("2026-03-29")
    first, after = q.never_attended(company, report_filter(rng), rng, q.Page(1), None)
    assert after is not None
    second, end = q.never_attended(company, report_filter(rng), rng, q.Page(1, after), None)
    assert [i["number"] for i in first + second] == [mask_number(D), mask_number(B)] and end is None


@pytest.mark.parametrize(("hours", "expected"), [(1, {A: 1, B: 1, D: 1}), (2, {B: 1, D: 1})])
def test_callback_within_hours(
    company: CompanyClickHouse, hours: int, expected: dict[str, int]
) -> None:
    rng = day("2026-03-29")
    items, _ = q.never_attended(company, report_filter(rng), rng, q.Page(10), hours)
    assert {i["number"]: i["unanswered_count"] for i in items} == {
        mask_number(k): v for k, v in expected.items()
    }


def test_not_picked_up(company: CompanyClickHouse) -> None:
    rng = day("2026-03-29")
    items, _ = q.not_picked_up(company, report_filter(rng), rng, q.Page(10))
    # B's unanswered call at 01:30 was followed by a connected call at 08:00
    assert items == [
        {
            "number": mask_number(D),
            "name": None,
            "attempts": 1,
            "first_attempt_at": "2026-03-29T13:05:00+02:00",
            "last_attempt_at": "2026-03-29T13:05:00+02:00",
            "employee_ids": ["e2"],
        },
        {
            "number": mask_number(C),
            "name": None,
            "attempts": 2,
            "first_attempt_at": "2026-03-29T12:00:00+02:00",
            "last_attempt_at": "2026-03-29T12:30:00+02:00",
            "employee_ids": ["e1"],
        },
    ]


def test_working_hours_cross_midnight_dst_and_missed_only_days(company: CompanyClickHouse) -> None:
    rng = day("2026-03-29", "2026-03-30")
    rows, after = q.working_days(company, report_filter(rng), rng, q.Page(10))
    assert after is None
    assert rows == [
        {
            "employee_id": "e1",
            "day": "2026-03-29",
            "first_activity_at": "2026-03-29T01:30:00+01:00",
            "last_activity_at": "2026-03-29T12:30:00+02:00",
            "working_s": 36000,
            "talk_time_s": 60,
            "activity_calls": 4,
        },
        {
            "employee_id": "e2",
            "day": "2026-03-29",
            "first_activity_at": "2026-03-29T11:00:00+02:00",
            "last_activity_at": "2026-03-30T00:10:00+02:00",
            "working_s": 47400,
            "talk_time_s": 1350,
            "activity_calls": 5,
        },
    ]  # e1's 30 March holds only a missed call: no working day
    team = q.team_totals(company, report_filter(rng), rng)
    assert team == {
        "days": [
            {
                "day": "2026-03-29",
                "active_employees": 2,
                "working_s": 83400,
                "mean_working_s": 41700.0,
            }
        ],
        "employee_days": 2,
        "working_s": 83400,
        "mean_working_s": 41700.0,
        "talk_time_s": 1410,
    }


def test_working_hours_pages(company: CompanyClickHouse) -> None:
    rng = day("2026-03-29", "2026-03-30")
    f = report_filter(rng)
    everything, _ = q.working_days(company, f, rng, q.Page(10))
    first, after = q.working_days(company, f, rng, q.Page(1))
    assert after is not None and first == everything[:1]
    rest, end = q.working_days(company, f, rng, q.Page(1, after))
    assert end is None and rest == everything[1:]


def test_customers(company: CompanyClickHouse) -> None:
    rng = day("2026-03-29")
    items, _ = q.customers(company, report_filter(rng), rng, q.Page(10))
    by_number = {item["number"]: item for item in items}
    assert [item["number"] for item in items] == [mask_number(n) for n in (A, D, C, B)]
    assert by_number[mask_number(A)] == {
        "number": mask_number(A),
        "name": "Ravi",
        "total_calls": 3,
        "incoming": 0,
        "outgoing": 2,
        "missed": 1,
        "voicemail": 0,
        "rejected": 0,
        "blocked": 0,
        "answered_externally": 0,
        "connected": 2,
        "unanswered_outgoing": 0,
        "talk_time_s": 1320,
        "avg_talk_s": 660.0,
        "first_call_at": "2026-03-29T09:00:00+02:00",
        "last_call_at": "2026-03-29T23:50:00+02:00",
        "last_employee_id": "e2",
    }
    assert by_number[mask_number(B)]["first_call_at"] == "2026-03-29T01:30:00+01:00"
    assert by_number[mask_number(B)]["last_employee_id"] == "e1"


def test_analytics_hours_across_dst(company: CompanyClickHouse) -> None:
    rng = day("2026-03-29")
    series = q.analytics(company, report_filter(rng), rng, "hour")
    assert len(series) == 23
    assert [s["bucket"] for s in series[:4]] == [
        "2026-03-29T00:00:00+01:00",
        "2026-03-29T01:00:00+01:00",
        "2026-03-29T03:00:00+02:00",
        "2026-03-29T04:00:00+02:00",
    ]
    assert series[1]["total_calls"] == 1 and series[2]["total_calls"] == 0
    assert sum(s["total_calls"] for s in series) == 11
    by_type = {
        s["bucket"]: s["total_calls"] for s in q.analytics(company, report_filter(rng), rng, "type")
    }
    assert by_type == {
        "incoming": 2,
        "outgoing": 6,
        "missed": 2,
        "voicemail": 0,
        "rejected": 1,
        "blocked": 0,
        "answered_externally": 0,
    }
    three = day("2026-03-28", "2026-03-30")
    days = q.analytics(company, report_filter(three), three, "day")
    assert [(s["bucket"], s["total_calls"]) for s in days] == [
        ("2026-03-28", 0),
        ("2026-03-29", 11),
        ("2026-03-30", 1),
    ]
    weekdays = q.analytics(company, report_filter(rng), rng, "weekday")
    assert [s["total_calls"] for s in weekdays] == [0, 0, 0, 0, 0, 0, 11]  # a Sunday


def test_connected_call_at_the_same_second_attends(report_store: ClickHouse) -> None:
    company = load(
        report_store,
        [
            call("m", "e1", A, "missed", at(9), 0),
            call("c", "e2", A, "incoming", at(9), 10),
            call("o", "e1", B, "outgoing", at(9), 0),
            call("p", "e2", B, "outgoing", at(9), 5),
        ],
        country="DE",
    )
    rng = day("2026-03-29")
    assert q.summary(company, report_filter(rng), rng)["never_attended"] == 0
    assert q.summary(company, report_filter(rng), rng)["not_picked_up"] == 0
    items, _ = q.never_attended(company, report_filter(rng), rng, q.Page(10), 1)
    assert items == []  # the call-back window includes its start
