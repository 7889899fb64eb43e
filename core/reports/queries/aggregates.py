"""The counting reports read from the per-employee aggregates (core/calls/aggregates.py)
instead of every call of their range: the same definitions (METRICS.md), a row per employee,
device and bucket instead of a row per call. Local days (`call_days`) where they serve the
range, quarter hours of UTC (`call_quarters`) where those are faster than the calls.

Pending erasures stay exact at once: the buckets their clients' calls fall in are read from
`calls` instead (recomputed without those calls, like the worker would), and a withdrawn device's
buckets are left out, until the erasure is done and its buckets rewritten."""

from __future__ import annotations

from typing import Any, Literal

from core.calls.aggregates import (
    COMPANY_HOURS,
    CONNECTABLE,
    DAYS,
    HOURS,
    QUARTERS,
    TYPES,
    VALUE_COLUMNS,
    Grain,
    hours_serve,
    recompute_sql,
    serves,
)
from core.clickhouse import greatest
from core.company_clickhouse import (
    COMPANY_FILTER,
    EMPLOYEE_KEYS,
    NOT_ERASED,
    NOT_ERASED_DEVICE,
    CompanyClickHouse,
)
from core.reports.filters import CallFilter
from core.reports.range import ReportRange

Source = Literal["calls", "quarters", "days"]
# what a report reads them for: counts and series by day, weekday, employee or type; series by
# hour; working time (per employee and local day)
Use = Literal["counts", "hours", "working time"]

# the buckets a pending erasure's clients called in, by device ({bucket}: the bucket of the
# row it tests: the aggregate's own column, or the call's)
ERASED_BUCKETS = f"""(device_id, {{bucket}}) IN (
    SELECT device_id, {{of_call}} AS bucket FROM calls
    WHERE {COMPANY_FILTER} AND client IN %(erased_clients)s
        AND started_at >= toDateTime(%(start_ts)s) AND started_at < toDateTime(%(end_ts)s))"""


# Where quarters are read unless a caller says: measured over 10M calls (BENCHMARKS.md
# "Per-employee aggregates"), a quarter holds ~3.5 calls of an employee, and summing the
# quarters' columns cost as much as counting the calls' three narrow ones; working time, which
# groups by employee and day, took 176 instead of 299 ms over 180 days. Days serve whatever they
# can (a day holds a rep's whole day of calls).
QUARTERS_BY_DEFAULT: dict[Use, bool] = {"counts": False, "hours": False, "working time": True}


def local_serves(ch: CompanyClickHouse, rng: ReportRange, grain: Grain) -> bool:
    """Local days (hours) answer a range of whole local days (hours) of the zone they are
    complete in."""
    zone = rng.zone.key
    if ch.day_zone != zone:
        return False
    if not grain.local_days and not hours_serve(zone, rng.start_ts, rng.end_ts):
        return False
    return all(grain.start(ts, zone) == ts for ts in (rng.start_ts, rng.end_ts))


def whole_company(ch: CompanyClickHouse, f: CallFilter) -> bool:
    """Whether the whole company's rows per hour (COMPANY_HOURS) answer the filter: every
    employee, nothing hidden by a pending erasure."""
    return not f.employee_ids and not ch.hidden.client_keys and not ch.hidden.devices


def chosen(
    ch: CompanyClickHouse,
    rng: ReportRange,
    source: Source | None,
    use: Use,
    whole: bool = False,
) -> Grain | None:
    """The aggregates `use` reads (None: the calls): `source` where it serves the range (tests
    and benchmarks name it; "days": the company's local grain of the use, hours for the series
    by hour), else the local grain where it serves, else quarters where they serve and are
    measured faster (QUARTERS_BY_DEFAULT). `whole`: a series of the whole company, which its
    rows per local hour answer first (`bucket_rows`)."""
    if source == "calls":
        return None
    if whole and source != "quarters" and local_serves(ch, rng, HOURS):
        return HOURS
    local = HOURS if use == "hours" else DAYS
    if source != "quarters" and local_serves(ch, rng, local):
        return local
    quarters = serves(rng.zone, rng.start, rng.end)
    if source is None:
        return QUARTERS if quarters and QUARTERS_BY_DEFAULT[use] else None
    return QUARTERS if quarters else None


def bucket_rows(ch: CompanyClickHouse, f: CallFilter, grain: Grain) -> tuple[str, dict[str, Any]]:
    """The grain's rows of the filter's range and employees, as a subquery (`q_at` the
    bucket, the employee, the device, the values prefixed q_): the table where nothing is
    hidden, the buckets of pending erasures' clients recomputed from `calls`; the whole
    company's rows (employee 0) for hours of every employee where nothing is hidden."""
    assert f.range is not None
    rng = f.range
    params: dict[str, Any] = {
        "start_ts": rng.start_ts,
        "end_ts": rng.end_ts,
        "zone": rng.zone.key,
        "first_key": _key(grain, rng.start_ts, rng),
        "end_key": _key(grain, rng.end_ts, rng),
    }
    stored = grain.number.format(grain.column)
    # prefixed: a report's sum(q_outgoing) AS outgoing must not shadow the column it sums
    values = ", ".join(f"{n} AS q_{n}" for n in VALUE_COLUMNS)
    if grain is HOURS and whole_company(ch, f):
        return (
            f"""SELECT hour AS q_at, toUInt64(0) AS employee, '' AS device_id, {values}
            FROM {COMPANY_HOURS} FINAL
            WHERE {COMPANY_FILTER} AND zone = %(zone)s
                AND {stored} >= %(first_key)s AND {stored} < %(end_key)s""",
            params,
        )
    employees = []
    if f.employee_ids:
        params["employee_ids"] = f.employee_ids
        employees.append(EMPLOYEE_KEYS)
    terms = [
        COMPANY_FILTER,
        *(("zone = %(zone)s",) if grain.zoned else ()),
        f"{stored} >= %(first_key)s AND {stored} < %(end_key)s",
        NOT_ERASED_DEVICE,
        *employees,
    ]
    columns = f"{grain.column} AS q_at, employee, device_id, {values}"
    table = f"{grain.table} FINAL"
    if not ch.hidden.client_keys:
        return f"SELECT {columns} FROM {table} WHERE {' AND '.join(terms)}", params
    erased = ERASED_BUCKETS.format(bucket=grain.column, of_call=grain.of_call)
    kept = " AND ".join([*terms, f"NOT {erased}"])
    recomputed = recompute_sql(
        grain,
        " AND ".join(
            [
                COMPANY_FILTER,
                NOT_ERASED,
                "started_at >= toDateTime(%(start_ts)s)",
                "started_at < toDateTime(%(end_ts)s)",
                *employees,
                ERASED_BUCKETS.format(bucket=grain.of_call, of_call=grain.of_call),
            ]
        ),
    )
    sql = f"""SELECT {columns} FROM {table} WHERE {kept}
        UNION ALL SELECT {columns} FROM ({recomputed})"""
    return sql, params


def _key(grain: Grain, ts: int, rng: ReportRange) -> int:
    """The key number of the bucket starting at `ts` (a range's ends are bucket starts)."""
    return grain.key(ts, rng.zone.key)


def counts_sql(types: tuple[str, ...], longest: bool = False, last_call: bool = False) -> str:
    """METRICS.md's basic counts over the buckets of the selected call types (all: none
    given); with `longest`, the longest connected call's key, with `last_call` the last
    call's start (each a max over more columns: a third of the cost together, left out
    where nothing shows them)."""
    selected = [t for t in TYPES if not types or t in types]
    connectable = [t for t in CONNECTABLE if t in selected]

    def total(column: str, among: list[str]) -> str:
        return " + ".join(f"sum({column.format(t=t)})" for t in among) or "0"

    parts = [f"{total('q_{t}', selected)} AS total_calls"]
    parts += [f"{'sum(q_' + t + ')' if t in selected else '0'} AS {t}" for t in TYPES]
    parts.append(f"{total('q_{t}_connected', connectable)} AS connected")
    unanswered = "sum(q_outgoing) - sum(q_outgoing_connected)" if "outgoing" in selected else "0"
    parts.append(f"{unanswered} AS unanswered_outgoing")
    parts.append(f"{total('q_{t}_talk_s', connectable)} AS talk_time_s")
    if longest:
        parts.append(f"{greatest([f'max(q_{t}_longest)' for t in connectable])} AS longest_key")
    if last_call:
        parts.append(f"{greatest([f'max(q_last_{t})' for t in selected])} AS last_call_ts")
    return ",\n".join(parts)


# Working hours from the buckets: activity calls are outgoing (any), rejected and connected
# incoming
WORKING_SQL = """min(q_first_activity) AS first_ts, max(q_activity_end) AS last_ts,
    sum(q_incoming_talk_s + q_outgoing_talk_s) AS talk_time_s,
    sum(q_outgoing + q_rejected + q_incoming_connected) AS activity_calls"""

# a bucket's local day, hour... in the range's zone; days are already local days
BUCKETS_OF_INSTANTS = {  # quarters of UTC and local hours: each bucket's start, an instant
    "day": "toString(toDate(q_at, %(zone)s))",
    "hour": "toUnixTimestamp(toStartOfHour(q_at, %(zone)s))",
    "hour_of_day": "toHour(q_at, %(zone)s)",
    "weekday": "toDayOfWeek(toDate(q_at, %(zone)s))",
    "employee": "employee",
}
BUCKETS: dict[str, dict[str, str]] = {
    QUARTERS.table: BUCKETS_OF_INSTANTS,
    HOURS.table: BUCKETS_OF_INSTANTS,
    DAYS.table: {
        "day": "toString(q_at)",
        "weekday": "toDayOfWeek(q_at)",
        "employee": "employee",
    },
}


def counts(ch: CompanyClickHouse, f: CallFilter, grain: Grain) -> dict[str, Any]:
    source, params = bucket_rows(ch, f, grain)
    return ch.query(f"SELECT {counts_sql(f.types, longest=True)} FROM ({source})", params)[0]


def counts_by(
    ch: CompanyClickHouse, f: CallFilter, grain: Grain, group_by: str, last_call: bool = False
) -> list[dict[str, Any]]:
    """The counts per bucket (day, hour, hour_of_day, weekday in the range's zone, employee);
    buckets without a selected call are left out, as a scan of the calls would."""
    source, params = bucket_rows(ch, f, grain)
    return ch.query(
        f"""SELECT {BUCKETS[grain.table][group_by]} AS bucket,
            {counts_sql(f.types, last_call=last_call)}
        FROM ({source})
        GROUP BY bucket HAVING total_calls > 0 ORDER BY bucket""",
        params,
    )


def counts_by_type(ch: CompanyClickHouse, f: CallFilter, grain: Grain) -> list[dict[str, Any]]:
    """The counts per call type: one row of sums, each type's share of it."""
    source, params = bucket_rows(ch, f, grain)
    sums = ", ".join(f"sum(q_{name}) AS {name}" for name in VALUE_COLUMNS[: len(TYPES) + 4])
    row = ch.query(f"SELECT {sums} FROM ({source})", params)[0]
    buckets = []
    for t in TYPES:
        if (f.types and t not in f.types) or not int(row[t]):
            continue
        connected = int(row[f"{t}_connected"]) if t in CONNECTABLE else 0
        buckets.append(
            {
                "bucket": t,
                "total_calls": int(row[t]),
                **{other: int(row[t]) if other == t else 0 for other in TYPES},
                "connected": connected,
                "unanswered_outgoing": int(row[t]) - connected if t == "outgoing" else 0,
                "talk_time_s": int(row[f"{t}_talk_s"]) if t in CONNECTABLE else 0,
            }
        )
    return buckets


def employee_totals(
    ch: CompanyClickHouse, f: CallFilter, longest: bool = False
) -> list[dict[str, Any]]:
    """Per employee (`employee`, the number), from one grouping of their local days
    (`call_days`, a row per device and day), the counts of the selected types, the last call
    (and the longest call's key: `longest`) and the working time (`working_s`: working_days_sql's days summed) where each of the
    employee's days with activity is one row; `shared_days` says where a day has rows of two
    devices, whose working time (the span from the first activity of either to the last end)
    the caller reads again by employee and day. One grouping instead of two (BENCHMARKS.md:
    0.68 of the time over 180 days of 2,000 employees)."""
    source, params = bucket_rows(ch, f, DAYS)
    activity = "q_outgoing + q_rejected + q_incoming_connected > 0"
    return ch.query(
        f"""SELECT employee, {counts_sql(f.types, longest, last_call=True)},
            sumIf(q_activity_end - q_first_activity, {activity}) AS working_s,
            countIf({activity}) != uniqExactIf(q_at, {activity}) AS shared_days
        FROM ({source}) GROUP BY employee""",
        params,
    )


def working_days_sql(
    ch: CompanyClickHouse, f: CallFilter, grain: Grain
) -> tuple[str, dict[str, Any]]:
    """One row per employee and local day with at least one activity call (working_time.py's
    definition, from the buckets: a local day is whole quarters, or one day)."""
    source, params = bucket_rows(ch, f, grain)
    sql = f"""SELECT employee, {BUCKETS[grain.table]["day"]} AS day, {WORKING_SQL}
        FROM ({source}) GROUP BY employee, day HAVING activity_calls > 0"""
    return sql, params
