"""The per-client lists: never attended (with the call-back SLA), not picked up, customers.
Each is one scan grouped by client, newest first, paged by (last call, client key)."""

from __future__ import annotations

from typing import Any

from core.company_clickhouse import CompanyClickHouse
from core.number_crypto import CompanyKeys
from core.paging import Page, SortKey, cut, limit_clause
from core.reports.filters import CallFilter
from core.reports.queries.sql import (
    CLIENT_HEX,
    CONNECTED,
    HAS_CLIENT,
    IN_RANGE,
    LATEST,
    MISSED_OR_REJECTED,
    UNANSWERED_OUTGOING,
    ClientLabels,
    counts_sql,
    iso,
    with_average,
)
from core.reports.range import ReportRange


def _after_clause(page: Page | None, sort_column: str, params: dict[str, Any]) -> str:
    if page is None or page.after is None:
        return ""
    params["after_ts"], params["after_key"] = page.after
    return (
        f" AND ({sort_column} < %(after_ts)s OR ({sort_column} = %(after_ts)s"
        " AND client_hex > %(after_key)s))"
    )


def unattended_sql(f: CallFilter, trigger: str, page: Page | None) -> tuple[str, dict[str, Any]]:
    """Clients with a `trigger` call (by the selected employees) in range and no connected call
    with them, by anyone, from their first trigger call to the end of the range."""
    considered = f"{trigger} AND {f.employee_term()}"
    where, params = f.where(employees=False, types=False)
    sql = f"""SELECT {CLIENT_HEX},
            sum({considered}) AS events,
            toUnixTimestamp(minIf(started_at, {considered})) AS first_ts,
            toUnixTimestamp(maxIf(started_at, {considered})) AS last_ts,
            toUnixTimestamp(maxIf(started_at, {CONNECTED})) AS last_connected_ts,
            groupUniqArrayIf(employee, {considered}) AS employees
        FROM calls FINAL {where} AND {HAS_CLIENT}
        GROUP BY client
        HAVING events > 0 AND last_connected_ts < first_ts{_after_clause(page, "last_ts", params)}
        ORDER BY last_ts DESC, client_hex{limit_clause(page, params)}"""
    return sql, params


def callback_gaps_sql(considered: str) -> str:
    """The call-back check in one pass per client instead of comparing every missed call with
    every connected one. `timeline`: the client's considered missed calls (code 2t) and connected
    calls (2t + 1), t in seconds since the range start (UInt32 sorts faster), newest first, so
    a connected call at the same second comes before the missed one. `gaps`: for each event, the
    seconds since the previous connected call in that order (the next one in time): a running
    sum of time steps that each connected call resets to 0 (arrayCumSumNonNegative floors at
    0); before any connected call it starts ~127 years high."""
    return f"""arrayReverseSort(groupArrayIf(
                toUInt32(toUnixTimestamp(started_at) - %(start_ts)s) * 2 + {CONNECTED},
                ({considered}) OR {CONNECTED})) AS timeline,
            arrayMap(e -> intDiv(e, 2), timeline) AS event_times,
            arrayCumSumNonNegative(arrayMap(
                (e, step, i) -> if(modulo(e, 2) = 1, toInt64(-8000000000),
                                   if(i = 1, toInt64(4000000000), -step)),
                timeline, arrayDifference(event_times), arrayEnumerate(timeline)
            )) AS gaps"""


def callback_sql(f: CallFilter, hours: int, page: Page | None) -> tuple[str, dict[str, Any]]:
    """Clients with a missed/rejected call in range not followed by a connected call, by anyone,
    within `hours` after it (the window may reach past the end of the range)."""
    considered = f"{MISSED_OR_REJECTED} AND {f.employee_term()} AND {IN_RANGE}"
    where, params = f.where(employees=False, types=False, extend_end_s=hours * 3600)
    params["window_s"] = hours * 3600
    sql = f"""SELECT {CLIENT_HEX},
            sum({considered}) AS events,
            toUnixTimestamp(minIf(started_at, {considered})) AS first_ts,
            toUnixTimestamp(maxIf(started_at, {considered})) AS last_ts,
            {callback_gaps_sql(considered)},
            arrayCount((e, gap) -> modulo(e, 2) = 0 AND gap > %(window_s)s, timeline, gaps)
                AS unanswered,
            groupUniqArrayIf(employee, {considered}) AS employees
        FROM calls FINAL {where} AND {HAS_CLIENT}
        GROUP BY client
        HAVING unanswered > 0{_after_clause(page, "last_ts", params)}
        ORDER BY last_ts DESC, client_hex{limit_clause(page, params)}"""
    return sql, params


def client_sort_key(row: dict[str, Any]) -> SortKey:
    return int(row["last_ts"]), str(row["client_hex"])


def unattended_item(
    row: dict[str, Any],
    rng: ReportRange,
    labels: ClientLabels,
    names: tuple[str, str, str],
) -> dict[str, Any]:
    """One client of an unattended list, under that report's names of its count, first, last."""
    count, first, last = names
    return {
        **labels.client(row),
        count: int(row["events"]),
        first: iso(row["first_ts"], rng),
        last: iso(row["last_ts"], rng),
        "employee_ids": labels.employee_ids(row["employees"]),
    }


def never_attended(
    ch: CompanyClickHouse,
    f: CallFilter,
    rng: ReportRange,
    page: Page,
    callback_within_h: int | None,
    reveal: CompanyKeys | None = None,
) -> tuple[list[dict[str, Any]], SortKey | None]:
    if callback_within_h is None:
        sql, params = unattended_sql(f, MISSED_OR_REJECTED, page)
    else:
        sql, params = callback_sql(f, callback_within_h, page)
    rows, after = cut(ch.query(sql, params), page, client_sort_key)
    labels = ClientLabels.of(ch, rows, (key for row in rows for key in row["employees"]), reveal)
    items = []
    for row in rows:
        item = unattended_item(
            row, rng, labels, ("missed_count", "first_missed_at", "last_missed_at")
        )
        if callback_within_h is not None:
            item["unanswered_count"] = int(row["unanswered"])
        items.append(item)
    return items, after


def not_picked_up(
    ch: CompanyClickHouse,
    f: CallFilter,
    rng: ReportRange,
    page: Page,
    reveal: CompanyKeys | None = None,
) -> tuple[list[dict[str, Any]], SortKey | None]:
    sql, params = unattended_sql(f, UNANSWERED_OUTGOING, page)
    rows, after = cut(ch.query(sql, params), page, client_sort_key)
    labels = ClientLabels.of(ch, rows, (key for row in rows for key in row["employees"]), reveal)
    names = ("attempts", "first_attempt_at", "last_attempt_at")
    return [unattended_item(row, rng, labels, names) for row in rows], after


def customers(
    ch: CompanyClickHouse,
    f: CallFilter,
    rng: ReportRange,
    page: Page,
    reveal: CompanyKeys | None = None,
) -> tuple[list[dict[str, Any]], SortKey | None]:
    where, params = f.where()
    sql = f"""SELECT {CLIENT_HEX},
            {counts_sql()},
            toUnixTimestamp(min(started_at)) AS first_ts,
            toUnixTimestamp(max(started_at)) AS last_ts,
            argMax(employee, {LATEST}) AS last_employee
        FROM calls FINAL {where} AND {HAS_CLIENT}
        GROUP BY client
        HAVING 1{_after_clause(page, "last_ts", params)}
        ORDER BY last_ts DESC, client_hex{limit_clause(page, params)}"""
    rows, after = cut(ch.query(sql, params), page, client_sort_key)
    labels = ClientLabels.of(ch, rows, (row["last_employee"] for row in rows), reveal)
    items = []
    for row in rows:
        items.append(
            {
                **labels.client(row),
                **with_average(row),
                "first_call_at": iso(row["first_ts"], rng),
                "last_call_at": iso(row["last_ts"], rng),
                "last_employee_id": labels.employees[int(row["last_employee"])],
            }
        )
    return items, after
