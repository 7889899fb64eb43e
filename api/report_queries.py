"""The SQL of every manager report, as plain functions over a company-scoped ClickHouse.
Each implements one definition of METRICS.md; api/reports.py only translates HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from api.call_filters import CallFilter
from api.report_range import ReportRange
from api.tenancy import COMPANY_FILTER, CompanyClickHouse
from schemas.payloads import CallType

CONNECTED = "(type IN ('incoming', 'outgoing') AND duration_s > 0)"
UNANSWERED_OUTGOING = "(type = 'outgoing' AND duration_s = 0)"
MISSED_OR_REJECTED = "(type IN ('missed', 'rejected'))"
# Working hours: outgoing (any duration), connected incoming, rejected. Missed calls never count.
ACTIVITY = "(type IN ('outgoing', 'rejected') OR (type = 'incoming' AND duration_s > 0))"
IN_RANGE = "started_at < toDateTime(%(end_ts)s)"
# `client` is the blind index as a UUID (migration 0004); the zero UUID is a call without client.
HAS_CLIENT = "client != toUUID('00000000-0000-0000-0000-000000000000')"
# the blind index in hex (= client_key): the tie-break of list order and of cursors
CLIENT_HEX = "replaceAll(toString(client), '-', '') AS client_hex"
# "The latest call" as one number: started_at, then call_id's first 32 bits (migration 0004).
# argMax over it costs a third of argMax over a (started_at, call_id) tuple.
LATEST = "(toUInt64(toUnixTimestamp(started_at)) * 4294967296 + tiebreak)"
# The longest connected call as one number: duration, then the later start.
LONGEST = "(toUInt64(duration_s) * 4294967296 + toUnixTimestamp(started_at))"

COUNT_NAMES = (
    "total_calls",
    *(t.value for t in CallType),
    "connected",
    "unanswered_outgoing",
    "talk_time_s",
)
BASIC_COUNT_NAMES = (*COUNT_NAMES, "unique_clients")


def counts_sql(selected: str = "") -> str:
    """The basic counts (without unique clients), over the rows where `selected` holds.
    Counts are sums of conditions (0/1): ClickHouse vectorises those, countIf/sumIf branch per
    row; 1.5x faster over 5M calls."""

    def of(term: str) -> str:
        return f"{selected} AND {term}" if selected else term

    return ",\n".join(
        [
            f"sum({selected}) AS total_calls" if selected else "count() AS total_calls",
            *(f"sum({of(f'type = {t.value!r}')}) AS {t.value}" for t in CallType),
            f"sum({of(CONNECTED)}) AS connected",
            f"sum({of(UNANSWERED_OUTGOING)}) AS unanswered_outgoing",
            f"sum(if({of(CONNECTED)}, duration_s, 0)) AS talk_time_s",
        ]
    )


BASIC_COUNTS_SQL = f"{counts_sql()},\nuniqExactIf(client, {HAS_CLIENT}) AS unique_clients"
GroupBy = Literal["day", "hour", "hour_of_day", "weekday", "employee", "type"]
BUCKETS: dict[str, str] = {
    "day": "toString(toDate(started_at, %(tz)s))",
    "hour": "toUnixTimestamp(toStartOfHour(started_at, %(tz)s))",
    "hour_of_day": "toHour(started_at, %(tz)s)",
    "weekday": "toDayOfWeek(toDate(started_at, %(tz)s))",
    "employee": "employee",
    "type": "type",
}


@dataclass(frozen=True, slots=True)
class Page:
    limit: int
    # the sort key of the last item seen: (timestamp, client key) in client lists,
    # (day ordinal, employee id) in working hours
    after: tuple[int, str] | None = None


def employee_ids(ch: CompanyClickHouse, keys: Iterable[Any]) -> dict[int, str]:
    """`employee` numbers (cityHash64 of the id, migration 0006) back to employee ids."""
    wanted = tuple(sorted({int(key) for key in keys}))
    if not wanted:
        return {}
    rows = ch.query(
        f"""SELECT DISTINCT employee, employee_id FROM call_employees
        WHERE {COMPANY_FILTER} AND employee IN %(employees)s""",
        {"employees": wanted},
    )
    return {int(row["employee"]): row["employee_id"] for row in rows}


@dataclass(frozen=True, slots=True)
class ClientLabels:
    """What a client list shows besides the counts, looked up for the clients of one page only
    (migration 0006): the masked number, the latest name the call log gave the number, and the
    ids behind `employee` numbers."""

    clients: dict[str, tuple[str, str]]
    employees: dict[int, str]

    @classmethod
    def of(
        cls, ch: CompanyClickHouse, rows: list[dict[str, Any]], employees: Iterable[Any]
    ) -> ClientLabels:
        wanted = tuple(str(uuid.UUID(row["client_hex"])) for row in rows)
        found = (
            ch.query(
                f"""SELECT {CLIENT_HEX}, masked, known_name FROM call_clients FINAL
                WHERE {COMPANY_FILTER} AND client IN %(clients)s""",
                {"clients": wanted},
            )
            if wanted
            else []
        )
        return cls(
            clients={row["client_hex"]: (row["masked"], row["known_name"]) for row in found},
            employees=employee_ids(ch, employees),
        )

    def client(self, row: dict[str, Any]) -> dict[str, Any]:
        number, name = self.clients[row["client_hex"]]
        return {"number": number, "name": name or None}

    def employee_ids(self, keys: Iterable[Any]) -> list[str]:
        return sorted(self.employees[int(key)] for key in keys)


def iso(ts: int, rng: ReportRange) -> str:
    return datetime.fromtimestamp(ts, rng.zone).isoformat()


def with_average(counts: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {name: int(counts[name]) for name in BASIC_COUNT_NAMES if name in counts}
    out["avg_talk_s"] = round(out["talk_time_s"] / out["connected"], 2) if out["connected"] else 0
    return out


def zero_counts() -> dict[str, Any]:
    return with_average(dict.fromkeys(BASIC_COUNT_NAMES, 0))


def summary_counts(ch: CompanyClickHouse, f: CallFilter) -> dict[str, Any]:
    """One scan grouped by client: the basic counts of the selected calls, how many clients are
    never attended and not picked up (over every employee's calls), and the longest call's key."""
    selected = f.selected_term()
    missed = f"{MISSED_OR_REJECTED} AND {f.employee_term()}"
    tried = f"{UNANSWERED_OUTGOING} AND {f.employee_term()}"
    where, params = f.where(employees=False, types=False)
    totals = ", ".join(f"sum({name}) AS {name}" for name in COUNT_NAMES)
    return ch.query(
        f"""SELECT {totals},
            countIf({HAS_CLIENT} AND client_calls > 0) AS unique_clients,
            countIf({HAS_CLIENT} AND missed_calls > 0 AND connected_ts < first_missed_ts)
                AS never_attended,
            countIf({HAS_CLIENT} AND tried_calls > 0 AND connected_ts < first_tried_ts)
                AS not_picked_up,
            max(longest_key) AS longest_key
        FROM (
            SELECT client, {counts_sql(selected)},
                sum({selected}) AS client_calls,
                maxIf({LONGEST}, {selected} AND {CONNECTED}) AS longest_key,
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


def _after_clause(page: Page | None, sort_column: str, params: dict[str, Any]) -> str:
    if page is None or page.after is None:
        return ""
    params["after_ts"], params["after_key"] = page.after
    return (
        f" AND ({sort_column} < %(after_ts)s OR ({sort_column} = %(after_ts)s"
        " AND client_hex > %(after_key)s))"
    )


def _limit(page: Page | None, params: dict[str, Any]) -> str:
    if page is None:
        return ""
    params["limit"] = page.limit + 1
    return " LIMIT %(limit)s"


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
        ORDER BY last_ts DESC, client_hex{_limit(page, params)}"""
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
        ORDER BY last_ts DESC, client_hex{_limit(page, params)}"""
    return sql, params


def _page(
    rows: list[dict[str, Any]], page: Page
) -> tuple[list[dict[str, Any]], tuple[int, str] | None]:
    if len(rows) > page.limit:
        last = rows[page.limit - 1]
        return rows[: page.limit], (int(last["last_ts"]), str(last["client_hex"]))
    return rows, None


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
) -> tuple[list[dict[str, Any]], tuple[int, str] | None]:
    if callback_within_h is None:
        sql, params = unattended_sql(f, MISSED_OR_REJECTED, page)
    else:
        sql, params = callback_sql(f, callback_within_h, page)
    rows, after = _page(ch.query(sql, params), page)
    labels = ClientLabels.of(ch, rows, (key for row in rows for key in row["employees"]))
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
    ch: CompanyClickHouse, f: CallFilter, rng: ReportRange, page: Page
) -> tuple[list[dict[str, Any]], tuple[int, str] | None]:
    sql, params = unattended_sql(f, UNANSWERED_OUTGOING, page)
    rows, after = _page(ch.query(sql, params), page)
    labels = ClientLabels.of(ch, rows, (key for row in rows for key in row["employees"]))
    names = ("attempts", "first_attempt_at", "last_attempt_at")
    return [unattended_item(row, rng, labels, names) for row in rows], after


def customers(
    ch: CompanyClickHouse, f: CallFilter, rng: ReportRange, page: Page
) -> tuple[list[dict[str, Any]], tuple[int, str] | None]:
    where, params = f.where()
    sql = f"""SELECT {CLIENT_HEX},
            {counts_sql()},
            toUnixTimestamp(min(started_at)) AS first_ts,
            toUnixTimestamp(max(started_at)) AS last_ts,
            argMax(employee, {LATEST}) AS last_employee
        FROM calls FINAL {where} AND {HAS_CLIENT}
        GROUP BY client
        HAVING 1{_after_clause(page, "last_ts", params)}
        ORDER BY last_ts DESC, client_hex{_limit(page, params)}"""
    rows, after = _page(ch.query(sql, params), page)
    labels = ClientLabels.of(ch, rows, (row["last_employee"] for row in rows))
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


def working_days_sql(f: CallFilter, rng: ReportRange) -> tuple[str, dict[str, Any]]:
    """One row per employee and local day with at least one activity call."""
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
    ch: CompanyClickHouse, f: CallFilter, rng: ReportRange, page: Page
) -> tuple[list[dict[str, Any]], tuple[int, str] | None]:
    """One page of employee-days, by day then employee id. The cursor is (day ordinal, id)."""
    sql, params = working_days_sql(f, rng)
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
        ORDER BY day, employee_id{_limit(page, params)}""",
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
    if len(items) <= page.limit:
        return items, None
    last = items[page.limit - 1]
    return items[: page.limit], (date.fromisoformat(last["day"]).toordinal(), last["employee_id"])


def working_total(ch: CompanyClickHouse, f: CallFilter, rng: ReportRange) -> int:
    """The sum of every employee-day's working_s over the range."""
    sql, params = working_days_sql(f, rng)
    row = ch.query(f"SELECT sum(last_ts - first_ts) AS working_s FROM ({sql})", params)[0]
    return int(row["working_s"])


def team_totals(ch: CompanyClickHouse, f: CallFilter, rng: ReportRange) -> dict[str, Any]:
    """Per day: active employees, their summed and mean working time; then over the range."""
    sql, params = working_days_sql(f, rng)
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


def employee_rows(
    ch: CompanyClickHouse, f: CallFilter, rng: ReportRange, employees: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Every selected employee, with zeros when they made no call in range: the counts of the
    selected types per employee, then the working time (activity calls of any type) per
    employee-day. Two scans: one per-employee-day scan that also merged per-day client sets
    took 1.3x as long."""
    selected = f.type_term()
    where, params = f.where(types=False)
    rows = ch.query(
        f"""SELECT employee, {counts_sql(selected)},
            uniqExactIf(client, {selected} AND {HAS_CLIENT}) AS unique_clients,
            toUnixTimestamp(maxIf(started_at, {selected})) AS last_call_ts
        FROM calls FINAL {where}
        GROUP BY employee""",
        params,
    )
    days, day_params = working_days_sql(f, rng)
    working = {
        int(row["employee"]): int(row["working_s"])
        for row in ch.query(
            f"SELECT employee, sum(last_ts - first_ts) AS working_s FROM ({days}) GROUP BY employee",
            day_params,
        )
    }
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
    ch: CompanyClickHouse, f: CallFilter, rng: ReportRange, group_by: GroupBy
) -> list[dict[str, Any]]:
    where, params = f.where()
    params["tz"] = rng.zone.key
    rows = ch.query(
        f"""SELECT {BUCKETS[group_by]} AS bucket, {BASIC_COUNTS_SQL}
        FROM calls FINAL {where} GROUP BY bucket ORDER BY bucket""",
        params,
    )
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
    return series


def summary(ch: CompanyClickHouse, f: CallFilter, rng: ReportRange) -> dict[str, Any]:
    """A scan per client, a scan per employee-day, then the longest call by its identity. One
    after the other: ClickHouse spreads each query over every core, and side by side they only
    fought for them (same median, slower tail, measured on 2 cores)."""
    row = summary_counts(ch, f)
    working = working_total(ch, f, rng)
    return {
        **with_average(row),
        "longest_call": longest_call(ch, f, rng, int(row["longest_key"]))
        if int(row["connected"])
        else None,
        "never_attended": int(row["never_attended"]),
        "not_picked_up": int(row["not_picked_up"]),
        "working_s": working,
    }
