"""The counting reports read from the per-employee aggregates (`call_quarters`,
core/calls/aggregates.py) instead of every call of their range: the same definitions
(METRICS.md), a row per employee, device and quarter hour instead of a row per call.

Pending erasures stay exact at once: the quarters their clients' calls fall in are read from
`calls` instead (recomputed without those calls, like the worker would), and a withdrawn device's
quarters are left out, until the erasure is done and its quarters rewritten."""

from __future__ import annotations

from typing import Any

from api.reports.filters import CallFilter
from api.reports.range import ReportRange
from core.calls.aggregates import (
    CONNECTABLE,
    QUARTER,
    RECOMPUTE_SQL,
    TYPES,
    VALUE_COLUMNS,
    VALUES_SQL,
)
from core.calls.aggregates import serves as quarters_serve
from core.company_clickhouse import (
    COMPANY_FILTER,
    NOT_ERASED,
    NOT_ERASED_DEVICE,
    CompanyClickHouse,
)

IN_QUARTERS = "quarter >= toDateTime(%(start_ts)s) AND quarter < toDateTime(%(end_ts)s)"
EMPLOYEE_KEYS = f"""employee IN (SELECT employee FROM call_employees
    WHERE {COMPANY_FILTER} AND employee_id IN %(employee_ids)s)"""
# the quarters a pending erasure's clients called in, by device ({quarter}: the quarter of the
# row it tests: `quarter` of call_quarters, or the call's own)
ERASED_QUARTERS = f"""(device_id, {{quarter}}) IN (
    SELECT device_id, {QUARTER} AS quarter FROM calls
    WHERE {COMPANY_FILTER} AND client IN %(erased_clients)s
        AND started_at >= toDateTime(%(start_ts)s) AND started_at < toDateTime(%(end_ts)s))"""


# Where quarters are read unless a caller says: measured over 10M calls (BENCHMARKS.md
# "Per-employee aggregates"), a quarter holds ~3.5 calls of an employee, and summing the
# quarters' columns cost as much as counting the calls' three narrow ones; working time, which
# groups by employee and day, took 176 instead of 299 ms over 180 days. The counts follow once
# a coarser rollup exists.
READ_BY_DEFAULT = {"counts": False, "working time": True}


def chosen(rng: ReportRange, aggregated: bool | None, what: str) -> bool:
    """Whether `what` reads quarters: as asked (`aggregated`, for tests and benchmarks), else as
    measured faster (READ_BY_DEFAULT) whenever they serve the range."""
    if aggregated is not None:
        return aggregated
    return READ_BY_DEFAULT[what] and quarters_serve(rng.zone, rng.start, rng.end)


def quarter_rows(ch: CompanyClickHouse, f: CallFilter) -> tuple[str, dict[str, Any]]:
    """The quarters of the filter's range and employees, as a subquery: `call_quarters` where
    nothing is hidden, the quarters of pending erasures' clients recomputed from `calls`."""
    assert f.range is not None
    params: dict[str, Any] = {"start_ts": f.range.start_ts, "end_ts": f.range.end_ts}
    terms = [COMPANY_FILTER, IN_QUARTERS, NOT_ERASED_DEVICE]
    if f.employee_ids:
        params["employee_ids"] = f.employee_ids
        terms.append(EMPLOYEE_KEYS)
    # prefixed: a report's sum(q_outgoing) AS outgoing must not shadow the column it sums
    columns = "quarter, employee, device_id, " + ", ".join(f"{n} AS q_{n}" for n in VALUE_COLUMNS)
    if not ch.hidden.client_keys:
        return f"SELECT {columns} FROM call_quarters FINAL WHERE {' AND '.join(terms)}", params
    kept = " AND ".join([*terms, "NOT " + ERASED_QUARTERS.format(quarter="quarter")])
    recomputed = RECOMPUTE_SQL.format(
        quarter=QUARTER,
        values=VALUES_SQL,
        selection=" AND ".join(
            [
                COMPANY_FILTER,
                NOT_ERASED,
                "started_at >= toDateTime(%(start_ts)s)",
                "started_at < toDateTime(%(end_ts)s)",
                *(terms[3:]),
                ERASED_QUARTERS.format(quarter=QUARTER),
            ]
        ),
    )
    sql = f"""SELECT {columns} FROM call_quarters FINAL WHERE {kept}
        UNION ALL SELECT {columns} FROM ({recomputed})"""
    return sql, params


def _greatest(terms: list[str]) -> str:
    """The largest of the terms (nested: ClickHouse 18.16's greatest takes two)."""
    if not terms:
        return "0"
    out = terms[0]
    for term in terms[1:]:
        out = f"greatest({out}, {term})"
    return out


def counts_sql(types: tuple[str, ...], extremes: bool = False) -> str:
    """METRICS.md's basic counts over the quarters of the selected call types (all: none
    given); with `extremes`, the longest connected call's key and the last call's start too
    (each a max over more columns: a third of the cost, left out where nothing shows them)."""
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
    if extremes:
        parts.append(f"{_greatest([f'max(q_{t}_longest)' for t in connectable])} AS longest_key")
        parts.append(f"{_greatest([f'max(q_last_{t})' for t in selected])} AS last_call_ts")
    return ",\n".join(parts)


# Working hours from quarters: activity calls are outgoing (any), rejected and connected incoming
WORKING_SQL = """min(q_first_activity) AS first_ts, max(q_activity_end) AS last_ts,
    sum(q_incoming_talk_s + q_outgoing_talk_s) AS talk_time_s,
    sum(q_outgoing + q_rejected + q_incoming_connected) AS activity_calls"""

BUCKETS: dict[str, str] = {
    "day": "toString(toDate(quarter, %(tz)s))",
    "hour": "toUnixTimestamp(toStartOfHour(quarter, %(tz)s))",
    "hour_of_day": "toHour(quarter, %(tz)s)",
    "weekday": "toDayOfWeek(toDate(quarter, %(tz)s))",
    "employee": "employee",
}


def counts(ch: CompanyClickHouse, f: CallFilter) -> dict[str, Any]:
    source, params = quarter_rows(ch, f)
    return ch.query(f"SELECT {counts_sql(f.types, extremes=True)} FROM ({source})", params)[0]


def counts_by(
    ch: CompanyClickHouse, f: CallFilter, rng: ReportRange, group_by: str, extremes: bool = False
) -> list[dict[str, Any]]:
    """The counts per bucket (day, hour, hour_of_day, weekday in the range's zone, employee);
    buckets without a selected call are left out, as a scan of the calls would."""
    source, params = quarter_rows(ch, f)
    params["tz"] = rng.zone.key
    return ch.query(
        f"""SELECT {BUCKETS[group_by]} AS bucket, {counts_sql(f.types, extremes)} FROM ({source})
        GROUP BY bucket HAVING total_calls > 0 ORDER BY bucket""",
        params,
    )


def counts_by_type(ch: CompanyClickHouse, f: CallFilter) -> list[dict[str, Any]]:
    """The counts per call type: one row of sums, each type's share of it."""
    source, params = quarter_rows(ch, f)
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


def working_days_sql(
    ch: CompanyClickHouse, f: CallFilter, rng: ReportRange
) -> tuple[str, dict[str, Any]]:
    """One row per employee and local day with at least one activity call (working_time.py's
    definition, from quarters: a local day is whole quarters)."""
    source, params = quarter_rows(ch, f)
    params["tz"] = rng.zone.key
    sql = f"""SELECT employee, toString(toDate(quarter, %(tz)s)) AS day, {WORKING_SQL}
        FROM ({source}) GROUP BY employee, day HAVING activity_calls > 0"""
    return sql, params
