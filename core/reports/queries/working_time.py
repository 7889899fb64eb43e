"""Working time (METRICS.md): employee-days from activity calls, paged by (day, employee id),
the range's total and the team's totals per day."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta
from typing import Any

from core.company_clickhouse import COMPANY_FILTER, CompanyClickHouse
from core.paging import Page, SortKey, cut, limit_clause
from core.reports.filters import CallFilter
from core.reports.queries import aggregates
from core.reports.queries.aggregates import Source
from core.reports.queries.sql import ACTIVITY, CONNECTED, iso
from core.reports.range import ReportRange


def working_days_sql(
    ch: CompanyClickHouse, f: CallFilter, rng: ReportRange, source: Source | None
) -> tuple[str, dict[str, Any]]:
    """One row per employee and local day with at least one activity call: from the
    aggregates (aggregates.py) when they serve the range, else from the calls."""
    grain = aggregates.chosen(ch, rng, source, "working time")
    if grain is not None:
        return aggregates.working_days_sql(ch, f, grain)
    where, params = f.where(types=False)
    params["tz"] = rng.zone.key
    sql = f"""SELECT employee, toString(toDate(started_at, %(tz)s)) AS day,
            toUnixTimestamp(min(started_at)) AS first_ts,
            max(toUnixTimestamp(started_at) + duration_s) AS last_ts,
            sum(if({CONNECTED}, duration_s, 0)) AS talk_time_s,
            count() AS activity_calls
        FROM calls FINAL {where} AND {ACTIVITY}
        GROUP BY employee, day"""
    return sql, params


def working_days(
    ch: CompanyClickHouse,
    f: CallFilter,
    rng: ReportRange,
    page: Page,
    source: Source | None = None,
) -> tuple[list[dict[str, Any]], SortKey | None]:
    """One page of employee-days, by day then employee id. The cursor is (day ordinal, id)."""
    sql, params = working_days_sql(ch, f, rng, source)
    after = ""
    if page.after is not None:
        after_day, params["after_id"] = page.after
        params["after_day"] = date.fromordinal(after_day).isoformat()
        after = """WHERE day > %(after_day)s
            OR (day = %(after_day)s AND employee_id > %(after_id)s)"""
    rows = ch.query(
        f"""SELECT * FROM ({sql}) AS days ANY LEFT JOIN (
            SELECT DISTINCT employee, employee_id FROM call_employees WHERE {COMPANY_FILTER}
        ) AS staff USING employee
        {after}
        ORDER BY day, employee_id{limit_clause(page, params)}""",
        params,
    )
    items = [
        {
            "employee_id": row["employee_id"],
            "day": row["day"],
            "first_activity_at": iso(row["first_ts"], rng),
            "last_activity_at": iso(row["last_ts"], rng),
            "working_s": int(row["last_ts"]) - int(row["first_ts"]),
            "talk_time_s": int(row["talk_time_s"]),
            "activity_calls": int(row["activity_calls"]),
        }
        for row in rows
    ]
    return cut(items, page, day_sort_key)


def day_sort_key(item: dict[str, Any]) -> SortKey:
    return date.fromisoformat(item["day"]).toordinal(), item["employee_id"]


def working_hours(
    ch: CompanyClickHouse,
    f: CallFilter,
    rng: ReportRange,
    page: Page,
    source: Source | None = None,
) -> tuple[list[dict[str, Any]], SortKey | None, dict[str, Any]]:
    """The report: a page of employee-days and the team's totals. The totals come first; their
    active employees per day tell which days the page can reach, so the page reads those days
    instead of the whole range (each read groups every employee-day it covers)."""
    team = team_totals(ch, f, rng, source)
    reached = page_days(team["days"], page)
    if reached is None:
        return [], None, team
    first, last = (datetime.combine(day, time(), rng.zone) for day in reached)
    narrowed = ReportRange(
        start=max(rng.start, first), end=min(rng.end, last + timedelta(days=1)), zone=rng.zone
    )
    items, after = working_days(ch, replace(f, range=narrowed), narrowed, page, source)
    return items, after, team


def page_days(days: list[dict[str, Any]], page: Page) -> tuple[date, date] | None:
    """The first and last local day a page of employee-days (one more than it shows) can reach,
    from each day's active employees (`days`, by day); None: no day after the cursor. The
    cursor's own day counts none of its rows (some are before the cursor)."""
    after = date.fromordinal(page.after[0]) if page.after is not None else None
    reached: list[date] = []
    rows = 0
    for found in days:
        day = date.fromisoformat(found["day"])
        if after is not None and day < after:
            continue
        reached.append(day)
        rows += 0 if day == after else int(found["active_employees"])
        if rows > page.limit:
            break
    return (reached[0], reached[-1]) if reached else None


def employee_working(
    ch: CompanyClickHouse, f: CallFilter, rng: ReportRange, source: Source | None = None
) -> dict[int, int]:
    """Each employee's (by `employee` number) sum of their employee-days' working_s: the
    employees report's working time and, summed, the summary's."""
    sql, params = working_days_sql(ch, f, rng, source)
    rows = ch.query(
        f"SELECT employee, sum(last_ts - first_ts) AS working_s FROM ({sql}) GROUP BY employee",
        params,
    )
    return {int(row["employee"]): int(row["working_s"]) for row in rows}


def working_total(
    ch: CompanyClickHouse, f: CallFilter, rng: ReportRange, source: Source | None = None
) -> int:
    """The sum of every employee-day's working_s over the range."""
    return sum(employee_working(ch, f, rng, source).values())


def team_totals(
    ch: CompanyClickHouse, f: CallFilter, rng: ReportRange, source: Source | None = None
) -> dict[str, Any]:
    """Per day: active employees, their summed and mean working time; then over the range."""
    sql, params = working_days_sql(ch, f, rng, source)
    per_day = ch.query(
        f"""SELECT day, count() AS active_employees, sum(last_ts - first_ts) AS working_s,
            sum(talk_time_s) AS talk_time_s
        FROM ({sql}) GROUP BY day ORDER BY day""",
        params,
    )
    days = [
        {
            "day": row["day"],
            "active_employees": int(row["active_employees"]),
            "working_s": int(row["working_s"]),
            "mean_working_s": round(int(row["working_s"]) / int(row["active_employees"]), 2),
        }
        for row in per_day
    ]
    employee_days = sum(day["active_employees"] for day in days)
    total = sum(day["working_s"] for day in days)
    return {
        "days": days,
        "employee_days": employee_days,
        "working_s": total,
        "mean_working_s": round(total / employee_days, 2) if employee_days else 0,
        "talk_time_s": sum(int(row["talk_time_s"]) for row in per_day),
    }
