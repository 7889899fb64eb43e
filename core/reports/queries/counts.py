"""The counting reports: the summary, the employees report and the analytics series."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any, Literal

from core.calls import client_states
from core.calls.aggregates import DAYS
from core.calls.day_clients import DAY, HOUR, Kind
from core.calls.day_clients import figures as bucket_figures
from core.company_clickhouse import COMPANY_FILTER, CompanyClickHouse
from core.reports.filters import CallFilter
from core.reports.queries import aggregates
from core.reports.queries.aggregates import Source
from core.reports.queries.sql import (
    BASIC_COUNTS_SQL,
    CONNECTED,
    COUNT_NAMES,
    HAS_CLIENT,
    LONGEST,
    MISSED_OR_REJECTED,
    UNANSWERED_OUTGOING,
    counts_sql,
    employee_ids,
    iso,
    with_average,
    zero_counts,
)
from core.reports.queries.working_time import employee_working, working_total
from core.reports.range import ReportRange
from schemas.payloads import CallType

GroupBy = Literal["day", "hour", "hour_of_day", "weekday", "employee", "type"]
BUCKETS: dict[str, str] = {
    "day": "toString(toDate(started_at, %(tz)s))",
    "hour": "toUnixTimestamp(toStartOfHour(started_at, %(tz)s))",
    "hour_of_day": "toHour(started_at, %(tz)s)",
    "weekday": "toDayOfWeek(toDate(started_at, %(tz)s))",
    "employee": "employee",
    "type": "type",
}


def summary_counts(ch: CompanyClickHouse, f: CallFilter) -> dict[str, Any]:
    """One scan grouped by client: the basic counts of the selected calls, how many clients are
    never attended and not picked up (over every employee's calls), and the longest call's key."""
    return _client_scan(ch, f, with_counts=True)


def client_figures(ch: CompanyClickHouse, f: CallFilter, states: bool = True) -> dict[str, Any]:
    """The summary's per-client figures alone: unique clients, never attended, not picked up.
    From the per-client states (`states`, core/calls/client_states.py) where they answer: the
    whole company (no employee, type or other filter) over a range ending after its latest
    call; else one scan grouped by client."""
    whole_company = not (f.employee_ids or f.types or f.extra)
    if states and whole_company and f.range is not None:
        found = client_states.figures(ch, f.range.start_ts, f.range.end_ts)
        if found is not None:
            return found
    return _client_scan(ch, f, with_counts=False)


def _client_scan(ch: CompanyClickHouse, f: CallFilter, with_counts: bool) -> dict[str, Any]:
    selected = f.selected_term()
    missed = f"{MISSED_OR_REJECTED} AND {f.employee_term()}"
    tried = f"{UNANSWERED_OUTGOING} AND {f.employee_term()}"
    where, params = f.where(employees=False, types=False)
    totals = "".join(f"sum({name}) AS {name}, " for name in COUNT_NAMES) if with_counts else ""
    inner = (
        f"{counts_sql(selected)}, maxIf({LONGEST}, {selected} AND {CONNECTED}) AS longest_key,"
        if with_counts
        else ""
    )
    return ch.query(
        f"""SELECT {totals}
            countIf({HAS_CLIENT} AND client_calls > 0) AS unique_clients,
            countIf({HAS_CLIENT} AND missed_calls > 0 AND connected_ts < first_missed_ts)
                AS never_attended,
            countIf({HAS_CLIENT} AND tried_calls > 0 AND connected_ts < first_tried_ts)
                AS not_picked_up{", max(longest_key) AS longest_key" if with_counts else ""}
        FROM (
            SELECT client, {inner}
                sum({selected}) AS client_calls,
                sum({missed}) AS missed_calls,
                minIf(started_at, {missed}) AS first_missed_ts,
                sum({tried}) AS tried_calls,
                minIf(started_at, {tried}) AS first_tried_ts,
                maxIf(started_at, {CONNECTED}) AS connected_ts
            FROM calls FINAL {where}
            GROUP BY client
        )""",
        params,
    )[0]


def longest_call(
    ch: CompanyClickHouse, f: CallFilter, rng: ReportRange, longest_key: int
) -> dict[str, Any]:
    """The connected call with the largest duration (then the latest start, then the greatest
    id), found by its duration and start: first their identities in the unmerged table (cheap,
    the filter narrows the read), then the current version of those through the primary key."""
    duration_s, started_ts = divmod(longest_key, 4294967296)
    where, params = f.where()
    params.update(longest_duration=duration_s, longest_start=started_ts)
    same = "duration_s = %(longest_duration)s AND started_at = toDateTime(%(longest_start)s)"
    row = ch.query(
        f"""SELECT call_id, employee_id, number_masked, name FROM calls FINAL
        {where} AND {CONNECTED} AND {same} AND (device_id, client_call_id) IN (
            SELECT device_id, client_call_id FROM calls WHERE {COMPANY_FILTER} AND {same})
        ORDER BY call_id DESC LIMIT 1""",
        params,
    )[0]
    return {
        "id": row["call_id"],
        "employee_id": row["employee_id"],
        "duration_s": duration_s,
        "started_at": iso(started_ts, rng),
        "number": row["number_masked"] or None,
        "name": row["name"] or None,
    }


def employee_rows(
    ch: CompanyClickHouse,
    f: CallFilter,
    rng: ReportRange,
    employees: list[dict[str, Any]],
    source: Source | None = None,
) -> list[dict[str, Any]]:
    """Every selected employee, with zeros when they made no call in range: the counts of the
    selected types per employee, the working time (activity calls of any type) per
    employee-day summed per employee, and the unique clients. From the calls, two scans (one
    per-employee-day scan that also merged per-day client sets took 1.3x as long). From the
    aggregates (aggregates.py), the counts and working time read them (from days, one
    grouping: `_day_totals`) and the unique clients `employee_clients`."""
    selected = f.type_term()
    where, params = f.where(types=False)
    grain = aggregates.chosen(ch, rng, source, "counts")
    working: dict[int, int] | None = None
    if grain is DAYS:  # working time reads days wherever the counts do
        rows, working = _day_totals(ch, f, rng, source)
    elif grain is not None:
        rows = [
            {**row, "employee": row["bucket"]}
            for row in aggregates.counts_by(ch, f, grain, "employee", last_call=True)
        ]
    else:
        rows = ch.query(
            f"""SELECT employee, {counts_sql(selected)},
                uniqExactIf(client, {selected} AND {HAS_CLIENT}) AS unique_clients,
                toUnixTimestamp(maxIf(started_at, {selected})) AS last_call_ts
            FROM calls FINAL {where}
            GROUP BY employee""",
            params,
        )
    if grain is not None:
        unique = employee_clients(ch, f)
        for row in rows:
            row["unique_clients"] = unique.get(int(row["employee"]), 0)
    if working is None:
        working = employee_working(ch, f, rng, source)
    ids = employee_ids(ch, (*(row["employee"] for row in rows), *working))
    counted = {ids[int(row["employee"])]: row for row in rows}
    worked = {ids[key]: seconds for key, seconds in working.items()}
    items = []
    for employee in employees:
        found = counted.get(employee["id"])
        called = found is not None and int(found["total_calls"]) > 0
        items.append(
            {
                "employee_id": employee["id"],
                "name": employee["name"],
                "team": employee["team"],
                **(with_average(found) if found else zero_counts()),
                "working_s": worked.get(employee["id"], 0),
                "last_call_at": iso(found["last_call_ts"], rng) if found and called else None,
            }
        )
    return items


def _day_totals(
    ch: CompanyClickHouse,
    f: CallFilter,
    rng: ReportRange,
    source: Source | None,
    longest: bool = False,
) -> tuple[list[dict[str, Any]], dict[int, int]]:
    """The counts (with the longest call's key: `longest`) and the working time per employee
    from their days in one grouping; the working time of employees with a day on two devices
    read again per employee and day."""
    rows = aggregates.employee_totals(ch, f, longest)
    working = {int(row["employee"]): int(row["working_s"]) for row in rows}
    shared = [int(row["employee"]) for row in rows if int(row["shared_days"])]
    if shared:
        again = replace(f, employee_ids=tuple(employee_ids(ch, shared).values()))
        working.update(employee_working(ch, again, rng, source))
    return rows, working


def employee_clients(ch: CompanyClickHouse, f: CallFilter, states: bool = True) -> dict[int, int]:
    """Unique clients per employee (the number) of the selected calls: from the states per
    employee and client (`states`, core/calls/client_states.py) where they answer (no filter
    beyond employees and types, a range ending after the latest call), else one scan."""
    if states and f.range is not None and not f.extra:
        found = client_states.employee_figures(
            ch, f.range.start_ts, f.range.end_ts, f.types, f.employee_ids
        )
        if found is not None:
            return found
    return calls_clients(ch, f, "UTC", "employee")


def calls_clients(
    ch: CompanyClickHouse, f: CallFilter, zone: str, group_by: GroupBy
) -> dict[Any, int]:
    """Unique clients per bucket (in `zone`) counted from the selected calls."""
    where, params = f.where()
    params["tz"] = zone
    clients = ch.query(
        f"""SELECT {BUCKETS[group_by]} AS bucket, uniqExact(client) AS unique_clients
        FROM calls FINAL {where} AND {HAS_CLIENT} GROUP BY bucket""",
        params,
    )
    return {
        int(row["bucket"]) if group_by == "employee" else row["bucket"]: int(row["unique_clients"])
        for row in clients
    }


def stored_clients(
    ch: CompanyClickHouse, f: CallFilter, rng: ReportRange, group_by: GroupBy
) -> dict[Any, int] | None:
    """Unique clients per bucket from what the worker keeps, where it answers: the day and hour
    figures (whole company, days and hours), else the rows per employee and client (core/calls/client_states.py)
    over a range ending after the latest call with no filter beyond employees and types (per
    employee, per type; per local hour of the day or weekday without a type filter, in the
    zone the company's days are complete in). None: count them from the calls."""
    if group_by in ("day", "hour"):
        return bucket_clients(ch, f, DAY if group_by == "day" else HOUR)
    if f.range is None or f.extra:
        return None
    start_ts, end_ts = f.range.start_ts, f.range.end_ts
    if group_by == "employee":
        return client_states.employee_figures(ch, start_ts, end_ts, f.types, f.employee_ids)
    if group_by == "type":
        return client_states.type_figures(ch, start_ts, end_ts, f.types, f.employee_ids)
    if f.types:
        return None
    return client_states.hour_figures(ch, start_ts, end_ts, rng.zone.key, group_by, f.employee_ids)


def bucket_clients(ch: CompanyClickHouse, f: CallFilter, kind: Kind) -> dict[Any, int] | None:
    """Unique clients per local day (hour) of the whole company (no filter but the range)
    where days (hours) serve the range: stored per bucket (core/calls/day_clients.py), the
    calls for buckets whose figure is stale; else None. Keyed as the series' rows are: a
    day's date, an hour's Unix seconds."""
    if f.range is None or f.employee_ids or f.types or f.extra:
        return None
    grain = kind.grain
    if not aggregates.local_serves(ch, f.range, grain):
        return None
    zone = f.range.zone.key
    first, end = (grain.key(ts, zone) for ts in (f.range.start_ts, f.range.end_ts))
    found = bucket_figures(ch, zone, first, end, kind)
    if found is None:
        return None
    if kind is HOUR:
        return found
    return {DAYS.value(n).isoformat(): count for n, count in found.items()}


def bucket_labels(group_by: str, rng: ReportRange) -> list[Any]:
    """Every bucket inside the range, so empty ones appear with zeros."""
    if group_by == "day":
        first = rng.start.astimezone(rng.zone).date()
        last = (rng.end - timedelta(seconds=1)).astimezone(rng.zone).date()
        return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]
    if group_by == "hour":
        start = rng.start.astimezone(rng.zone).replace(minute=0, second=0, microsecond=0)
        first_ts = int(start.timestamp())
        return list(range(first_ts, rng.end_ts, 3600))
    if group_by == "hour_of_day":
        return list(range(24))
    if group_by == "weekday":
        return list(range(1, 8))
    if group_by == "type":
        return [t.value for t in CallType]
    return []


def analytics(
    ch: CompanyClickHouse,
    f: CallFilter,
    rng: ReportRange,
    group_by: GroupBy,
    unique_clients: bool = True,
    source: Source | None = None,
) -> list[dict[str, Any]]:
    """The basic counts per bucket. A distinct count per bucket is most of the scan's cost (3x
    over 5 million calls): without `unique_clients` the buckets leave it out (a chart of calls
    by type does not show it). From the aggregates (aggregates.py), the counts read them; the
    unique clients what the worker keeps where it answers (`stored_clients`), else the calls
    (with the counts when those come from the calls too)."""
    use: aggregates.Use = "hours" if group_by in ("hour", "hour_of_day") else "counts"
    whole = group_by != "employee" and aggregates.whole_company(ch, f)
    grain = aggregates.chosen(ch, rng, source, use, whole)
    stored = None
    if unique_clients and source != "calls":
        stored = stored_clients(ch, f, rng, group_by)
    if grain is not None:
        rows = (
            aggregates.counts_by_type(ch, f, grain)
            if group_by == "type"
            else aggregates.counts_by(ch, f, grain, group_by)
        )
        if unique_clients and stored is None:
            stored = calls_clients(ch, f, rng.zone.key, group_by)
    else:
        where, params = f.where()
        params["tz"] = rng.zone.key
        counted = BASIC_COUNTS_SQL if unique_clients and stored is None else counts_sql()
        rows = ch.query(
            f"""SELECT {BUCKETS[group_by]} AS bucket, {counted}
            FROM calls FINAL {where} GROUP BY bucket ORDER BY bucket""",
            params,
        )
    if stored is not None:
        for row in rows:
            bucket = int(row["bucket"]) if group_by == "employee" else row["bucket"]
            row["unique_clients"] = stored.get(bucket, 0)
    if group_by == "employee":
        ids = employee_ids(ch, (row["bucket"] for row in rows))
        for row in rows:
            row["bucket"] = ids[int(row["bucket"])]
    found = {row["bucket"]: with_average(row) for row in rows}
    labels = bucket_labels(group_by, rng) or sorted(found)
    series = []
    for label in labels:
        shown = iso(label, rng) if group_by == "hour" else label
        series.append({"bucket": shown, **found.get(label, zero_counts())})
    if not unique_clients:  # an empty bucket's zero too: the field is left out throughout
        for bucket in series:
            bucket["unique_clients"] = None
    return series


def summary(
    ch: CompanyClickHouse, f: CallFilter, rng: ReportRange, source: Source | None = None
) -> dict[str, Any]:
    """A scan per client, a scan per employee-day, then the longest call by its identity. One
    after the other: ClickHouse spreads each query over every core, and side by side they only
    fought for them (same median, slower tail, measured on 2 cores). From the aggregates
    (`source`; by default as aggregates.chosen says), the counts, the longest call and the
    working time read them (from days in one grouping by employee, as the employees report
    does); the per-client figures the per-client states where they answer (`client_figures`;
    not for `source` "calls"), else the calls."""
    grain = aggregates.chosen(ch, rng, source, "counts")
    working: int | None = None
    if grain is DAYS:  # the counts and working time of every employee in one grouping
        rows, per_employee = _day_totals(ch, f, rng, source, longest=True)
        row = {name: sum(int(r[name]) for r in rows) for name in COUNT_NAMES}
        row["longest_key"] = max((int(r["longest_key"]) for r in rows), default=0)
        working = sum(per_employee.values())
    elif grain is not None:
        row = aggregates.counts(ch, f, grain)
    else:
        row = summary_counts(ch, f)
    if grain is not None:
        row.update(client_figures(ch, f, source != "calls"))
    if working is None:
        working = working_total(ch, f, rng, source)
    return {
        **with_average(row),
        "longest_call": longest_call(ch, f, rng, int(row["longest_key"]))
        if int(row["connected"])
        else None,
        "never_attended": int(row["never_attended"]),
        "not_picked_up": int(row["not_picked_up"]),
        "working_s": working,
    }
