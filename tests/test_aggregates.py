"""The per-employee aggregates (`call_quarters`, `call_days`, `call_hours`) answer every
counting report exactly as a scan of the raw calls does: random calls with re-sends that change
durations and employees, in zones with half- and quarter-hour offsets and DST switches, on both
ClickHouse backends; days rebuilt in a company's new zone; and an erasure is out of every
aggregated figure at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from core.calls import client_states, day_clients
from core.calls.aggregates import DAYS, HOURS, rebuild_days, serves, without_devices
from core.calls.phone_numbers import mask_number
from core.clickhouse import ClickHouse
from core.company_clickhouse import CompanyClickHouse, Hidden
from core.privacy import mutations
from core.reports import queries as q
from core.reports.filters import CallFilter
from core.reports.queries.aggregates import Source, local_serves
from core.reports.range import ReportRange, parse_range
from tests.support import metrics_reference as ref
from tests.support.report_data import load, report_filter

CLIENTS = ["+12125550101", "+12125550102", "+12125550103", None]
EMPLOYEES = ["e1", "e2", "e3"]
ZONES = [
    "UTC",
    "Asia/Kolkata",  # +05:30
    "Asia/Kathmandu",  # +05:45
    "America/New_York",  # DST on 2026-03-08 and 2026-11-01
    "Australia/Lord_Howe",  # DST of 30 minutes, ends 2026-04-05
    "America/St_Johns",  # -03:30 / -02:30
]
# around DST switches: the local days of the range cross them
ORIGINS = [
    datetime(2026, 3, 7, 0, 0, tzinfo=UTC),
    datetime(2026, 4, 4, 0, 0, tzinfo=UTC),
    datetime(2026, 10, 31, 0, 0, tzinfo=UTC),
]
NOW = datetime(2027, 1, 1, tzinfo=UTC)
GROUPINGS: tuple[q.GroupBy, ...] = ("day", "hour", "hour_of_day", "weekday", "employee", "type")


@st.composite
def uploads(draw: st.DrawFn) -> list[ref.RefCall]:
    origin = draw(st.sampled_from(ORIGINS))
    calls = []
    for n in range(draw(st.integers(1, 30))):
        device = draw(st.sampled_from(["d1", "d2", "d3"]))
        calls.append(
            ref.RefCall(
                key=(device, str(n)),
                employee=draw(st.sampled_from(EMPLOYEES)),
                client=draw(st.sampled_from(CLIENTS)),
                type=draw(st.sampled_from(ref.TYPES)),
                # 5-minute steps over three days: quarter, hour and midnight edges, and calls
                # that run past them
                started_at=origin + timedelta(minutes=5 * draw(st.integers(0, 864))),
                duration_s=draw(st.sampled_from([0, 1, 45, 600, 4000])),
                name=None,
            )
        )
    resent = draw(st.lists(st.sampled_from(calls), max_size=6))
    # a re-upload may correct the duration, and come from the phone's next employee
    return calls + [
        ref.RefCall(
            c.key,
            draw(st.sampled_from([c.employee, *EMPLOYEES])),
            c.client,
            c.type,
            c.started_at,
            draw(st.sampled_from([0, 30, c.duration_s])),
            c.name,
        )
        for c in resent
    ]


def reports(
    company: CompanyClickHouse,
    rng_args: tuple[str, str, str],
    employees: tuple[str, ...],
    types: tuple[str, ...],
    source: Source,
) -> dict[str, object]:
    first, last, zone = rng_args
    rng = parse_range(first, last, zone, zone, NOW)
    f = report_filter(rng, employees, types)
    staff = [{"id": e, "name": e, "team": None} for e in sorted(employees or EMPLOYEES)]
    return {
        "summary": q.summary(company, f, rng, source=source),
        "employees": q.employee_rows(company, f, rng, staff, source=source),
        **{f"analytics by {g}": q.analytics(company, f, rng, g, source=source) for g in GROUPINGS},
        "working days": q.working_days(company, f, rng, q.Page(1000), source=source),
        "team totals": q.team_totals(company, f, rng, source=source),
        "working hours by pages of 2": working_pages(company, f, rng, source),
    }


def working_pages(
    company: CompanyClickHouse, f: CallFilter, rng: ReportRange, source: Source
) -> list[dict[str, object]]:
    """Every employee-day of the working-hours report, page after page of two (each page reads
    only the days it can reach)."""
    items: list[dict[str, object]] = []
    page = q.Page(2)
    while True:
        found, after, _team = q.working_hours(company, f, rng, page, source=source)
        items.extend(found)
        if after is None:
            return items
        page = q.Page(2, after)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    sent=uploads(),
    zone=st.sampled_from(ZONES),
    first=st.integers(0, 2),
    days=st.integers(0, 2),
    employees=st.sampled_from([(), ("e1",), ("e2", "e3")]),
    types=st.sampled_from([(), ("outgoing",), ("incoming", "missed", "rejected")]),
)
# a day's unique clients counted midway (one client), then a second client's call that day: the
# stored figure is stale and must not answer
@example(
    sent=[
        *(
            ref.RefCall(("d1", str(n)), "e1", CLIENTS[0], "outgoing", ORIGINS[0], 30)
            for n in range(14)
        ),
        ref.RefCall(("d2", "14"), "e2", CLIENTS[1], "incoming", ORIGINS[0], 30),
    ],
    zone="UTC",
    first=0,
    days=0,
    employees=(),
    types=(),
)
# Lord Howe's clocks go back half an hour at 02:00 on 2026-04-05: ClickHouse's hour then runs
# 01:30-02:30, so local hours must not answer the hour of day of a call at 02:05
@example(
    sent=[
        ref.RefCall(
            ("d1", "0"), "e1", CLIENTS[0], "outgoing", datetime(2026, 4, 4, 15, 35, tzinfo=UTC), 30
        )
    ],
    zone="Australia/Lord_Howe",
    first=0,
    days=0,
    employees=(),
    types=(),
)
def test_aggregated_reports_equal_the_raw_scan(
    report_store: ClickHouse,
    sent: list[ref.RefCall],
    zone: str,
    first: int,
    days: int,
    employees: tuple[str, ...],
    types: tuple[str, ...],
) -> None:
    company = load(report_store, sent, country="US", zone=zone)
    origin = min(c.started_at for c in sent).astimezone(ZoneInfo(zone)).date()
    rng_args = (
        (origin + timedelta(days=first)).isoformat(),
        (origin + timedelta(days=first + days)).isoformat(),
        zone,
    )
    rng = parse_range(*rng_args[:2], zone, zone, NOW)
    assert serves(ZoneInfo(zone), rng.start, rng.end) and local_serves(company, rng, DAYS)
    raw = reports(company, rng_args, employees, types, "calls")
    whole_list = q.working_days(company, report_filter(rng, employees), rng, q.Page(1000))[0]
    assert raw["working hours by pages of 2"] == whole_list
    assert reports(company, rng_args, employees, types, "quarters") == raw
    # unique clients of days counted midway (load) are stored, the others stale: both exact
    assert reports(company, rng_args, employees, types, "days") == raw
    # and once the worker's round counted every day
    for kind in day_clients.KINDS:
        day_clients.recompute_stale(report_store, company.company_id, zone, 1000, kind)
        stale = day_clients.stale_figures(report_store, company.company_id, zone, kind=kind)
        assert stale[0] == {}
    assert reports(company, rng_args, employees, types, "days") == raw


def test_bucket_keys_are_the_ones_clickhouse_computes(report_store: ClickHouse) -> None:
    """The worker names the buckets a batch touched in Python (`Grain.key`); ClickHouse puts
    each call in its bucket with SQL (`Grain.of_call`). They agree in every zone, across DST
    switches (the repeated hour of New York's, Lord Howe's half hour) and odd offsets."""
    steps = 3 * 206  # 7-minute steps over three days from each origin
    for zone in ZONES:
        for origin in ORIGINS:
            found = report_store.query(
                f"""SELECT ts, {DAYS.number.format(DAYS.of_call)} AS day,
                    {HOURS.number.format(HOURS.of_call)} AS hour
                FROM (SELECT %(origin)s + 420 * number AS ts, toDateTime(ts) AS started_at
                    FROM numbers(%(steps)s))""",
                {"origin": int(origin.timestamp()), "steps": steps, "zone": zone},
            )
            assert len(found) == steps
            for row in found:
                ts = int(row["ts"])
                assert (int(row["day"]), int(row["hour"])) == (
                    DAYS.key(ts, zone),
                    HOURS.key(ts, zone),
                ), (zone, ts)


def test_days_rebuilt_in_a_new_zone_equal_the_raw_scan(report_store: ClickHouse) -> None:
    """A company that moves from UTC to +05:45: its days in the new zone, written by the
    rebuild (as the worker's round does), answer as the calls do; the old zone's days and any
    other zone are not read."""
    origin = datetime(2026, 3, 7, 17, 0, tzinfo=UTC)
    sent = [
        ref.RefCall(
            (f"d{n % 3}", str(n)),
            EMPLOYEES[n % 3],
            CLIENTS[n % 4],
            ref.TYPES[n % len(ref.TYPES)],
            origin + timedelta(minutes=47 * n),
            (0, 45, 600)[n % 3],
            None,
        )
        for n in range(90)
    ]
    company = load(report_store, sent, country="US", zone="UTC")
    rng_args = ("2026-03-07", "2026-03-09", "Asia/Kathmandu")
    rng = parse_range(*rng_args[:2], "Asia/Kathmandu", "UTC", NOW)
    assert not local_serves(company, rng, DAYS)  # complete in UTC only
    assert rebuild_days(report_store, company.company_id, "Asia/Kathmandu") > 0
    moved = CompanyClickHouse(
        report_store, company.company_id, day_zone="Asia/Kathmandu", client_states_from=0
    )
    assert local_serves(moved, rng, DAYS)
    raw = reports(moved, rng_args, (), (), "calls")
    assert reports(moved, rng_args, (), (), "days") == raw
    # the clients' latest calls per local hour and weekday were rebuilt in the new zone too
    # (read over a range ending after the latest call); the UTC ones stay unread
    whole = parse_range("2026-03-07", "2026-03-12", "Asia/Kathmandu", "UTC", NOW)
    for by in ("hour_of_day", "weekday"):
        scanned = q.analytics(moved, report_filter(whole), whole, by, source="calls")
        in_zone = client_states.hour_figures(
            moved, whole.start_ts, whole.end_ts, "Asia/Kathmandu", by
        )
        assert in_zone == {row["bucket"]: row["unique_clients"] for row in scanned}
        assert client_states.hour_figures(moved, whole.start_ts, whole.end_ts, "UTC", by) is None
    assert reports(moved, rng_args, ("e1",), ("outgoing",), "days") == reports(
        moved, rng_args, ("e1",), ("outgoing",), "calls"
    )
    # a rebuild again writes the same days (idempotent): the figures stay
    rebuild_days(report_store, company.company_id, "Asia/Kathmandu")
    assert reports(moved, rng_args, (), (), "days") == raw


def test_an_erasure_is_out_of_every_aggregated_figure_at_once(report_store: ClickHouse) -> None:
    origin = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
    sent = [
        ref.RefCall(("d1", str(n)), "e1", client, kind, origin + timedelta(minutes=7 * n), 60, None)
        for n, (client, kind) in enumerate(
            [
                ("+12125550101", "outgoing"),
                ("+12125550102", "incoming"),
                ("+12125550101", "incoming"),
                ("+12125550103", "missed"),
                ("+12125550102", "outgoing"),
            ]
        )
    ]
    company = load(report_store, sent, country="US", zone="Asia/Kolkata")
    rng = parse_range("2026-06-01", "2026-06-01", "Asia/Kolkata", "Asia/Kolkata", NOW)
    f = report_filter(rng)
    before = q.summary(company, f, rng, source="days")
    assert before["total_calls"] == 5
    erased = company.clickhouse.query(
        "SELECT any(client_key) AS k FROM calls WHERE company_id = %(c)s AND number_masked = %(m)s",
        {"c": company.company_id, "m": mask_number("+12125550101")},
    )[0]["k"]
    hidden = CompanyClickHouse(
        company.clickhouse, company.company_id, Hidden((erased,)), company.day_zone
    )
    raw = q.summary(hidden, f, rng, source="calls")
    assert (raw["total_calls"], raw["outgoing"], raw["incoming"]) == (3, 1, 1)
    for source in ("days", "quarters"):
        assert q.summary(hidden, f, rng, source=source) == raw
        assert q.working_days(hidden, f, rng, q.Page(10), source=source) == q.working_days(
            hidden, f, rng, q.Page(10), source="calls"
        )
    for by in ("hour", "hour_of_day"):
        by_calls = q.analytics(hidden, f, rng, by, source="calls")
        assert q.analytics(hidden, f, rng, by, source="quarters") == by_calls
        assert q.analytics(hidden, f, rng, by, source="days") == by_calls  # local hours


def test_a_withdrawn_device_leaves_the_whole_company_hours(report_store: ClickHouse) -> None:
    """A device's erasure rewrites its hours as zero rows and folds the company's hours again
    before its mutations: once done (nothing hidden), the whole company's series, read from
    its rows per hour, equal the calls left; its zero rows stay, so a later call's fold wins."""
    origin = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
    sent = [
        ref.RefCall((device, str(n)), employee, CLIENTS[n % 3], "outgoing", at, 60, None)
        for n, (device, employee, at) in enumerate(
            [
                ("d1", "e1", origin),
                ("d1", "e1", origin + timedelta(minutes=10)),
                ("d2", "e2", origin + timedelta(minutes=20)),
                ("d1", "e1", origin + timedelta(hours=3)),
            ]
        )
    ]
    company = load(report_store, sent, country="US", zone="Asia/Kolkata")
    rng = parse_range("2026-06-01", "2026-06-01", "Asia/Kolkata", "Asia/Kolkata", NOW)
    f = report_filter(rng)

    def by_hour(ch: CompanyClickHouse) -> list[int]:
        found = q.analytics(ch, f, rng, "hour", source="days")
        assert found == q.analytics(ch, f, rng, "hour", source="calls")
        return [int(b["total_calls"]) for b in found if b["total_calls"]]

    assert by_hour(company) == [3, 1]
    assert q.analytics(company, f, rng, "hour", source="days") != q.analytics(
        company, report_filter(rng, ("e1",)), rng, "hour", source="days"
    )
    (d1,) = {
        row["device_id"]
        for row in report_store.query(
            "SELECT device_id FROM calls WHERE company_id = %(c)s AND employee_id = 'e1'",
            {"c": company.company_id},
        )
    }
    assert without_devices(report_store, company.company_id, [d1]) > 0
    mutations.run(report_store, mutations.devices_plan(company.company_id, [d1]), 60)
    assert by_hour(company) == [1]
    zeros = report_store.query(
        """SELECT count() AS n, sum(outgoing) AS calls FROM call_hours FINAL
        WHERE company_id = %(c)s AND device_id = %(d)s""",
        {"c": company.company_id, "d": d1},
    )[0]
    assert (int(zeros["n"]), int(zeros["calls"])) == (2, 0)
    # a repeat (a crash before `done`) finds the zero rows, writes them again: the same figures
    without_devices(report_store, company.company_id, [d1])
    assert by_hour(company) == [1]
