"""The call history reads recent weeks first: every page must still be exactly the newest calls
that match, whatever the window it was found in, on both ClickHouse backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.calls.history import AFTER_CURSOR, history_rows, newest_calls
from core.clickhouse import ClickHouse
from core.company_clickhouse import CompanyClickHouse
from core.reports.filters import CallFilter
from core.reports.range import ReportRange, parse_range
from tests.support.metrics_reference import RefCall
from tests.support.report_data import load

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
# days before NOW: inside the first window, the second, the third, and before all of them
AGES = [0.1, 0.5, 1, 2, 6.9, 8, 20, 34, 40, 100, 179, 200, 400, 401]


def uploads() -> list[RefCall]:
    calls = []
    for n, age in enumerate(AGES):
        employee = "e1" if n % 3 else "e2"
        start = NOW - timedelta(days=age)
        calls.append(
            RefCall((f"d-{employee}", str(n)), employee, "+919812345678", "outgoing", start, 30)
        )
    calls.append(RefCall(("d-e1", "future"), "e1", None, "missed", NOW + timedelta(hours=3), 0))
    # e2's phone handed to e1: an employee filter must find calls on any phone they used
    calls.append(RefCall(("d-e2", "moved"), "e1", None, "incoming", NOW - timedelta(days=3), 9))
    return calls


@pytest.fixture
def company(report_store: ClickHouse) -> CompanyClickHouse:
    return load(report_store, uploads())


def history(
    employees: tuple[str, ...] = (),
    cursor: tuple[int, str] | None = None,
    rng: ReportRange | None = None,
) -> CallFilter:
    extra: tuple[str, ...] = ()
    params: tuple[tuple[str, str | int], ...] = ()
    if cursor is not None:
        extra = (AFTER_CURSOR,)
        params += (("cursor_ts", cursor[0]), ("cursor_id", cursor[1]))
    return CallFilter(range=rng, employee_ids=employees, extra=extra, extra_params=params)


@pytest.mark.parametrize("employees", [(), ("e1",), ("e2",)])
def test_every_page_is_the_newest_calls(
    company: CompanyClickHouse, employees: tuple[str, ...]
) -> None:
    everything = history_rows(company, history(employees), 100)
    assert len(everything) == {(): 16, ("e1",): 11, ("e2",): 5}[employees]
    for wanted in range(1, len(everything) + 2):
        got = newest_calls(company, history(employees), wanted, int(NOW.timestamp()))
        assert got == everything[:wanted], wanted


def test_pages_after_a_cursor(company: CompanyClickHouse) -> None:
    everything = history_rows(company, history(), 100)
    for index in range(len(everything) - 1):
        last = everything[index]
        cursor = (int(last["started_ts"]), str(last["call_id"]))
        got = newest_calls(company, history(cursor=cursor), 3, cursor[0])
        assert got == everything[index + 1 : index + 4], index


@pytest.mark.parametrize(
    ("first", "last"), [("2026-10-01", "2026-11-24"), ("2025-01-01", "2025-12-31")]
)
def test_pages_of_a_range(company: CompanyClickHouse, first: str, last: str) -> None:
    rng = parse_range(first, last, None, "UTC", NOW)
    everything = history_rows(company, history(rng=rng), 100)
    assert everything, "the range holds calls"
    for wanted in range(1, len(everything) + 2):
        got = newest_calls(company, history(rng=rng), wanted, rng.end_ts)
        assert got == everything[:wanted], wanted
