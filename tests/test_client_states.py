"""The per-client states (`client_states`, core/calls/client_states.py) answer the summary's
per-client figures (unique clients, never attended, not picked up) of a whole company exactly
as a scan of its calls does, for every range that ends after its latest call: random calls
with re-sends that correct durations, on both ClickHouse backends and two shards; pending
erasures are out at once; and where they cannot answer, the calls do."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from core.calls import client_states
from core.calls.phone_numbers import mask_number
from core.clickhouse import ClickHouse
from core.company_clickhouse import CompanyClickHouse, Hidden, as_uuid
from core.controlplane import companies, erasures, make_engine, migrate
from core.reports import queries as q
from core.reports.queries.counts import client_figures, employee_clients
from core.reports.range import parse_range
from streams.calls.aggregates import STATES_SETTLE, build_client_states
from streams.privacy.jobs import states_lose_before, states_unusable
from tests.support import metrics_reference as ref
from tests.support.report_data import load, report_filter

CLIENTS = ["+12125550101", "+12125550102", "+12125550103", None]
ORIGIN = datetime(2026, 5, 4, 0, 0, tzinfo=UTC)
NOW = datetime(2027, 1, 1, tzinfo=UTC)
AT = [ORIGIN + timedelta(hours=12 * n) for n in range(8)]
TYPE_FILTERS: list[tuple[str, ...]] = [(), ("missed",), ("incoming", "outgoing")]


@st.composite
def uploads(draw: st.DrawFn) -> list[ref.RefCall]:
    """Calls of a few clients at midnights and noons of four days (ties of connected and missed
    calls, calls at a range's first second), then re-sends that may turn an unanswered call
    into a connected one or back."""
    calls = []
    for n in range(draw(st.integers(1, 25))):
        calls.append(
            ref.RefCall(
                key=(draw(st.sampled_from(["d1", "d2"])), str(n)),
                employee=draw(st.sampled_from(["e1", "e2"])),
                client=draw(st.sampled_from(CLIENTS)),
                type=draw(st.sampled_from(ref.TYPES)),
                started_at=ORIGIN + timedelta(hours=12 * draw(st.integers(0, 7))),
                duration_s=draw(st.sampled_from([0, 0, 45])),
                name=None,
            )
        )
    resent = draw(st.lists(st.sampled_from(calls), max_size=5))
    return calls + [
        replace(
            c,
            duration_s=draw(st.sampled_from([0, 30])),
            # its phone enrolled for another employee since
            employee=draw(st.sampled_from([c.employee, "e1", "e2"])),
        )
        for c in resent
    ]


def scanned(company: CompanyClickHouse, first_day: int) -> tuple[dict[str, object], int, int]:
    rng = parse_range(
        (ORIGIN + timedelta(days=first_day)).date().isoformat(), "2026-05-10", "UTC", "UTC", NOW
    )
    return client_figures(company, report_filter(rng), states=False), rng.start_ts, rng.end_ts


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sent=uploads(), first_day=st.integers(0, 4), types=st.sampled_from(TYPE_FILTERS))
# a missed call at the range's first second before the latest connected one, then another: the
# first missed call in range is attended
@example(
    sent=[
        ref.RefCall(("d1", "1"), "e1", CLIENTS[0], "missed", AT[0], 0),
        ref.RefCall(("d1", "2"), "e1", CLIENTS[0], "incoming", AT[1], 30),
        ref.RefCall(("d1", "3"), "e1", CLIENTS[0], "missed", AT[2], 0),
    ],
    first_day=0,
    types=(),
)
# a missed call at the second of the latest connected one, then another: attended too
@example(
    sent=[
        ref.RefCall(("d1", "1"), "e1", CLIENTS[0], "missed", AT[1], 0),
        ref.RefCall(("d2", "2"), "e2", CLIENTS[0], "outgoing", AT[1], 30),
        ref.RefCall(("d1", "3"), "e1", CLIENTS[0], "missed", AT[2], 0),
    ],
    first_day=0,
    types=(),
)
# an employee's call with a client re-sent by the phone enrolled for another employee since, in
# a later batch: the first employee has no call with that client left
@example(
    sent=[
        *(
            ref.RefCall(("d1", str(n)), "e1", CLIENTS[n % 2], "outgoing", AT[n], 30)
            for n in range(6)
        ),
        ref.RefCall(("d1", "6"), "e1", CLIENTS[2], "outgoing", AT[6], 30),
        ref.RefCall(("d1", "6"), "e2", CLIENTS[2], "outgoing", AT[6], 30),
    ],
    first_day=0,
    types=(),
)
def test_states_answer_as_the_raw_scan(
    report_store: ClickHouse, sent: list[ref.RefCall], first_day: int, types: tuple[str, ...]
) -> None:
    company = load(report_store, sent)
    raw, start_ts, end_ts = scanned(company, first_day)
    f = replace(report_filter(parse_range(
        (ORIGIN + timedelta(days=first_day)).date().isoformat(), "2026-05-10", "UTC", "UTC", NOW
    )), types=types)  # fmt: skip
    per_employee = employee_clients(company, f, states=False)
    assert f.range is not None
    by_type = {
        row["bucket"]: row["unique_clients"]
        for row in q.analytics(company, f, f.range, "type", source="calls")
    }
    # per local hour and weekday of one employee's calls and of the whole company's (no type
    # filter: those read the calls)
    groupings: tuple[q.GroupBy, ...] = ("hour_of_day", "weekday")
    by_hour = {
        (by, employees): {
            row["bucket"]: row["unique_clients"]
            for row in q.analytics(
                company,
                replace(f, types=(), employee_ids=employees),
                f.range,
                by,
                source="calls",
            )
        }
        for employees in (("e1",), ("e2",), ())
        for by in groupings
    }

    def answered() -> None:
        assert client_states.figures(company, start_ts, end_ts) == raw
        found = client_states.employee_figures(company, start_ts, end_ts, types)
        assert found is not None
        assert {e: n for e, n in found.items() if n} == per_employee
        assert client_states.type_figures(company, start_ts, end_ts, types) == by_type
        for (by, employees), expected in by_hour.items():
            found_hours = client_states.hour_figures(
                company, start_ts, end_ts, "UTC", by, employees
            )
            assert found_hours == expected, (by, employees)

    answered()
    # a rebuild from the calls writes the states the worker kept (the same versions: its rows
    # win)
    client_states.rebuild(report_store, company.company_id, "UTC")
    answered()


def test_states_answer_only_where_they_are_exact(report_store: ClickHouse) -> None:
    sent = [
        ref.RefCall(("d1", "1"), "e1", "+12125550101", "missed", ORIGIN, 0, None),
        ref.RefCall(("d1", "2"), "e1", "+12125550102", "outgoing", ORIGIN, 0, None),
        ref.RefCall(("d2", "3"), "e2", "+12125550101", "incoming", ORIGIN, 0, None),
    ]
    company = load(report_store, sent)
    raw, start_ts, end_ts = scanned(company, 0)
    assert raw == {"unique_clients": 2, "never_attended": 1, "not_picked_up": 1}
    assert client_states.figures(company, start_ts, end_ts) == raw
    # a range ending before the latest call, states not rebuilt, a range before what retention
    # kept, a withdrawn device pending: the calls answer
    assert client_states.figures(company, start_ts, int(ORIGIN.timestamp())) is None
    assert (
        client_states.figures(replace(company, client_states_from=None), start_ts, end_ts) is None
    )
    kept = replace(company, client_states_from=start_ts + 1)
    assert client_states.figures(kept, start_ts, end_ts) is None
    withdrawn = replace(company, hidden=Hidden(devices=("d2",)))
    assert client_states.figures(withdrawn, start_ts, end_ts) is None
    # the summary's filters other than the range: the calls answer, with the filter
    rng = parse_range("2026-05-04", "2026-05-10", "UTC", "UTC", NOW)
    one = client_figures(company, report_filter(rng, ("e2",)))
    assert one == {"unique_clients": 1, "never_attended": 0, "not_picked_up": 0}


def test_a_pending_erasure_is_out_of_the_states_at_once(report_store: ClickHouse) -> None:
    sent = [
        ref.RefCall(("d1", "1"), "e1", "+12125550101", "missed", ORIGIN, 0, None),
        ref.RefCall(("d1", "2"), "e1", "+12125550102", "missed", ORIGIN, 0, None),
        ref.RefCall(("d1", "3"), "e1", "+12125550103", "outgoing", ORIGIN, 60, None),
    ]
    company = load(report_store, sent)
    erased = company.clickhouse.query(
        "SELECT any(client_key) AS k FROM calls WHERE company_id = %(c)s AND number_masked = %(m)s",
        {"c": company.company_id, "m": mask_number("+12125550101")},
    )[0]["k"]
    hidden = replace(company, hidden=Hidden((erased,)))
    raw, start_ts, end_ts = scanned(hidden, 0)
    assert raw == {"unique_clients": 2, "never_attended": 1, "not_picked_up": 0}
    assert client_states.figures(hidden, start_ts, end_ts) == raw
    rng = parse_range("2026-05-04", "2026-05-10", "UTC", "UTC", NOW)
    summary = q.summary(hidden, report_filter(rng), rng, source="days")
    assert summary == q.summary(hidden, report_filter(rng), rng, source="calls")


def test_the_round_rebuilds_unusable_states_and_retention_moves_their_start(
    report_store: ClickHouse, tmp_path: Path
) -> None:
    """States of calls stored before (none usable) are rebuilt by the worker's round; calls of
    a withdrawn device deleted make them unusable until the round, which waits a few seconds,
    has rebuilt them (a wrong row of before deleted); retention moves their start up."""
    sent = [
        ref.RefCall(("d1", "1"), "e1", CLIENTS[0], "missed", AT[1], 0),
        ref.RefCall(("d1", "2"), "e1", CLIENTS[1], "outgoing", AT[2], 0),
    ]
    company = load(report_store, sent)
    engine = make_engine(f"sqlite:///{tmp_path / 'control.db'}")
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(
            companies.insert().values(
                id=company.company_id, name="States", country="US", timezone="UTC",
                plan="basic", wrapped_data_key="-", created_at=NOW,
            )
        )  # fmt: skip

    def usable_from() -> datetime | None:
        with engine.connect() as conn:
            return conn.execute(
                sa.select(companies.c.client_states_from).where(
                    companies.c.id == company.company_id
                )
            ).scalar_one()

    assert build_client_states(engine, report_store, lambda: NOW) == [company.company_id]
    assert usable_from() == client_states.EPOCH
    assert build_client_states(engine, report_store, lambda: NOW) == []
    raw, start_ts, end_ts = scanned(company, 0)
    assert client_states.figures(company, start_ts, end_ts) == raw

    # a state that outranks the calls (as one counting a deleted device's calls would)
    wrong = (company.company_id, as_uuid(company.clickhouse.query(
        "SELECT any(client_key) AS k FROM calls WHERE company_id = %(c)s AND type = 'missed'",
        {"c": company.company_id},
    )[0]["k"]), 0, 0, 0, 0, 0, 0, 2**63)  # fmt: skip
    report_store.insert("client_states", client_states.STATE_COLUMNS, [wrong])
    assert client_states.figures(company, start_ts, end_ts) != raw
    with engine.begin() as conn:
        states_unusable(conn, company.company_id, NOW)
    assert usable_from() is None
    assert build_client_states(engine, report_store, lambda: NOW + timedelta(seconds=1)) == []
    later = NOW + STATES_SETTLE
    with engine.begin() as conn:  # not while a device's calls are still to go
        conn.execute(
            erasures.insert().values(
                id="e-1", company_id=company.company_id, kind="employee", devices='["d9"]',
                suppress=False, status="pending", counts="{}", requested_at=NOW,
            )
        )  # fmt: skip
    assert build_client_states(engine, report_store, lambda: later) == []
    with engine.begin() as conn:
        conn.execute(erasures.update().values(status="done"))
    assert build_client_states(engine, report_store, lambda: later) == [company.company_id]
    assert client_states.figures(company, start_ts, end_ts) == raw

    kept = int(AT[2].timestamp())
    with engine.begin() as conn:
        states_lose_before(conn, company.company_id, kept, NOW)
        states_lose_before(conn, company.company_id, kept - 86_400, NOW)  # never back
    assert usable_from() == AT[2]
    # while unusable, retention leaves them so, and a rebuild read before it is not recorded
    with engine.begin() as conn:
        states_unusable(conn, company.company_id, NOW)
        states_lose_before(conn, company.company_id, kept, later)
        stale_at = conn.execute(
            sa.select(companies.c.client_states_stale_at).where(
                companies.c.id == company.company_id
            )
        ).scalar_one()
    assert usable_from() is None and stale_at == later
