"""ClickHouse migrations keep every call written under the earlier ones, on both backends."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from api.leads.calls import client_calls
from core.calls import client_states
from core.calls.aggregates import COMPANY_HOURS_COLUMNS, rebuild_days
from core.clickhouse import ClickHouse, connect, migrate
from core.company_clickhouse import NOT_ERASED, CompanyClickHouse
from core.reports import queries as q
from core.reports.range import parse_range
from schemas.migrations import numbered_migrations
from tests.support.metrics_reference import RefCall
from tests.support.report_data import load, report_filter
from tests.support.services import ClickHouseServer

BEFORE_REPORT_COLUMNS = 3  # calls with a String type, partitioned by month


@pytest.fixture(params=["chdb", "server"])
def empty_database(request: pytest.FixtureRequest) -> Iterator[ClickHouse]:
    name = f"migrations_{uuid.uuid4().hex[:8]}"
    if request.param == "server":
        server: ClickHouseServer = request.getfixturevalue("clickhouse_server")
        store = connect(server.url(name))
        yield store
        store.execute(f"DROP DATABASE {name}")
        store.close()
        return
    shared: ClickHouse = request.getfixturevalue("chdb_store")  # one chDB per process
    shared.execute(f"CREATE DATABASE {name}")
    shared.execute(f"USE {name}")
    try:
        yield shared
    finally:
        shared.execute("USE default")
        shared.execute(f"DROP DATABASE {name}")


def at(day: int, hour: int) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


STAFF = [{"id": e, "name": e.upper(), "team": None} for e in ("e1", "e2")]
UPLOADS = [
    RefCall(("d1", "1"), "e1", "+4915112345678", "outgoing", at(2, 9), 0, "Anna"),
    RefCall(("d1", "1"), "e1", "+4915112345678", "outgoing", at(2, 9), 95, "Anna"),  # corrected
    RefCall(("d1", "2"), "e1", "+4915112345679", "missed", at(30, 18), 0),
    RefCall(("d2", "7"), "e2", None, "incoming", at(31, 8), 40),
]


def test_calls_written_before_the_report_columns_keep_counting(
    empty_database: ClickHouse,
) -> None:
    store = empty_database
    assert len(migrate(store, up_to=BEFORE_REPORT_COLUMNS)) == BEFORE_REPORT_COLUMNS
    company = load(store, UPLOADS, country="DE", aggregates=False)

    applied = migrate(store)
    assert applied == [
        "0004_report_columns.sql",
        "0005_calls_by_week.sql",
        "0006_employee_and_client_lookups.sql",
        "0007_leads.sql",
        "0008_call_quarters.sql",
        "0009_call_days.sql",
        "0010_client_states.sql",
        "0011_employee_clients.sql",
        "0012_day_clients.sql",
        "0013_client_hours.sql",
        "0014_call_hours.sql",
        "0015_company_hours.sql",
        "0016_hour_clients.sql",
        "0017_call_changes.sql",
    ]

    rows = company.query(
        f"""SELECT client_key, toString(client) AS client, call_id, tiebreak, type,
            toTypeName(type) AS type_type, _partition_id AS part
        FROM calls FINAL WHERE company_id = %(company_id)s AND {NOT_ERASED}
        ORDER BY started_at""",
    )
    assert [r["type"] for r in rows] == ["outgoing", "missed", "incoming"]
    assert rows[0]["type_type"].startswith("Enum8(")
    for row in rows:
        expected = str(uuid.UUID(row["client_key"])) if row["client_key"] else str(uuid.UUID(int=0))
        assert row["client"] == expected
        assert row["tiebreak"] == int(row["call_id"][:8], 16)
    # weekly partitions: Mondays, not months
    assert [r["part"] for r in rows] == ["20260302", "20260330", "20260330"]
    # the change feed starts with each call stored before, once, at its latest version
    feed = company.query(
        """SELECT call_id, version FROM call_changes WHERE company_id = %(company_id)s
        ORDER BY call_id""",
    )
    latest = company.query(
        f"""SELECT call_id, version FROM calls FINAL WHERE company_id = %(company_id)s
        AND {NOT_ERASED} ORDER BY call_id""",
    )
    assert feed == latest

    rng = parse_range("2026-03-01", "2026-03-31", None, "UTC", at(31, 23))
    got = q.summary(company, report_filter(rng), rng)
    assert (got["total_calls"], got["talk_time_s"], got["unique_clients"]) == (3, 135, 2)
    assert got["longest_call"]["duration_s"] == 95
    assert got["never_attended"] == 1
    # the aggregates were filled from the calls written before them (the corrected call once)
    aggregated = q.summary(company, report_filter(rng), rng, source="quarters")
    assert aggregated == got == q.summary(company, report_filter(rng), rng, source="calls")
    # the days are written by the worker's round (rebuild_days), then read
    rebuild_days(store, company.company_id, "UTC")
    days = CompanyClickHouse(store, company.company_id, day_zone="UTC")
    assert q.summary(days, report_filter(rng), rng, source="days") == got
    assert q.working_days(days, report_filter(rng), rng, q.Page(10)) == q.working_days(
        company, report_filter(rng), rng, q.Page(10), source="calls"
    )
    # the client states are written by the worker's round from the kinds 0010 gave every call
    assert client_states.rebuild(store, company.company_id, "UTC") == 2
    states = CompanyClickHouse(store, company.company_id, day_zone="UTC", client_states_from=0)
    assert client_states.figures(states, rng.start_ts, rng.end_ts) == {
        "unique_clients": 2,
        "never_attended": 1,
        "not_picked_up": 0,
    }
    assert q.summary(states, report_filter(rng), rng) == got
    # and the employee of every call 0011 gave them (the states per employee and client)
    employees = q.employee_rows(states, report_filter(rng), rng, STAFF, source="days")
    assert employees == q.employee_rows(company, report_filter(rng), rng, STAFF, source="calls")
    assert [row["unique_clients"] for row in employees] == [2, 0]
    # and the unique clients per local hour and weekday (0013)
    for by in ("hour_of_day", "weekday"):
        by_rows = q.analytics(states, report_filter(rng), rng, by, source="quarters")
        assert by_rows == q.analytics(company, report_filter(rng), rng, by, source="calls")
        assert client_states.hour_figures(states, rng.start_ts, rng.end_ts, "UTC", by)
    # and the counts per local hour (0014), written by the same round
    hourly: tuple[q.GroupBy, ...] = ("hour", "hour_of_day")
    for grouping in hourly:
        by_hours = q.analytics(states, report_filter(rng), rng, grouping, source="days")
        assert by_hours == q.analytics(company, report_filter(rng), rng, grouping, source="calls")
    assert store.query("SELECT count() AS n FROM call_hours")[0]["n"] > 0
    # the whole company's hours (0015) the same round folded: what its backfill folds too
    folded = f"""SELECT toUnixTimestamp(hour) AS at, {", ".join(COMPANY_HOURS_COLUMNS[3:])}
        FROM company_hours FINAL ORDER BY at"""
    written = store.query(folded)
    assert sum(int(row["outgoing"]) for row in written) == 1
    store.execute("TRUNCATE TABLE company_hours")
    backfill = numbered_migrations("clickhouse", set(range(1, 15)))[0]  # 0015
    assert backfill.name == "0015_company_hours.sql"
    for statement in backfill.statements:
        store.execute(statement)
    assert store.query(folded) == written

    # the lookups were filled from the calls written before them
    clients = company.query(
        """SELECT masked, known_name FROM call_clients FINAL
        WHERE company_id = %(company_id)s ORDER BY masked"""
    )
    assert clients == [
        {"masked": "+49*******5678", "known_name": "Anna"},
        {"masked": "+49*******5679", "known_name": ""},
    ]
    staff = company.query(
        """SELECT employee_id, device_id FROM call_employees FINAL
        WHERE company_id = %(company_id)s AND employee = cityHash64(employee_id)
        ORDER BY employee_id"""
    )
    assert [(row["employee_id"], row["device_id"]) for row in staff] == [("e1", "d1"), ("e2", "d2")]

    # the per-client call counts too: a corrected re-upload is one call, connected
    counted = client_calls(company, [row["client_key"] for row in rows if row["client_key"]])
    assert sorted((c.calls, c.connected, c.status.value) for c in counted.values()) == [
        (1, 0, "attempted"),
        (1, 1, "connected"),
    ]
