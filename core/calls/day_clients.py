"""Unique clients per local day (`day_clients`, migration 0012): the analytics day series'
distinct count, which no per-employee bucket can hold (a client called by two employees, or on
two devices, counts once), stored per company and day of the company's zone.

A day's figure is computed from `calls FINAL` with the state of the day's per-employee rows
(`call_days`, core/calls/aggregates.py) it matches: the sum of their versions, read first.
Every batch that stores a call of the day rewrites some of those rows at a newer version, so
a figure whose sum no longer equals the day's current one is stale, and the day is counted
from the calls at read time (`figures`): exact by construction, whatever the order of writes.
In steady state only the days still receiving calls are read from the calls; the worker's
round (`recompute_stale`) brings the others' figures up to date.

Erasures and retention delete figures (core/privacy/mutations.py): all of the company's after
an erasure's calls are gone (the round skips a company with an erasure pending, and reads of
it count from the calls meanwhile), the days before the cutoff with retention."""

from __future__ import annotations

from datetime import date
from typing import Any

from core.calls.aggregates import DAY_S, EPOCH_DAY
from core.clickhouse import ClickHouse
from core.company_clickhouse import CompanyClickHouse

COLUMNS = ("company_id", "zone", "day", "unique_clients", "days_version")
# the span of days counted per query (a day of a 2,000-seat team is ~300,000 calls)
DAYS_PER_QUERY = 7
HAS_CLIENT = "client != toUUID('00000000-0000-0000-0000-000000000000')"

# the current state of each day of the company in `zone` (between two day numbers)
DAY_VERSIONS_SQL = """SELECT toUInt16(day) AS n, sum(version) AS days_version
    FROM call_days FINAL
    WHERE company_id = %(company_id)s AND zone = %(zone)s
        AND toUInt16(day) >= %(first)s AND toUInt16(day) < %(end)s
    GROUP BY n"""
STORED_SQL = """SELECT toUInt16(day) AS n, unique_clients, days_version
    FROM day_clients FINAL
    WHERE company_id = %(company_id)s AND zone = %(zone)s
        AND toUInt16(day) >= %(first)s AND toUInt16(day) < %(end)s"""


def _day_numbers(
    clickhouse: ClickHouse, sql: str, company_id: str, zone: str, first: int, end: int
) -> list[dict[str, Any]]:
    return clickhouse.query(
        sql, {"company_id": company_id, "zone": zone, "first": first, "end": end}
    )


def stale_days(
    clickhouse: ClickHouse, company_id: str, zone: str, first: int = 0, end: int = 65535
) -> tuple[dict[int, int], dict[int, int]]:
    """The days (numbers since 1970-01-01) in [first, end) whose figure is missing or stale,
    with their current versions; and the fresh figures."""
    current = {
        int(row["n"]): int(row["days_version"])
        for row in _day_numbers(clickhouse, DAY_VERSIONS_SQL, company_id, zone, first, end)
    }
    fresh: dict[int, int] = {}
    for row in _day_numbers(clickhouse, STORED_SQL, company_id, zone, first, end):
        n = int(row["n"])
        if current.get(n) == int(row["days_version"]):
            fresh[n] = int(row["unique_clients"])
    return {n: v for n, v in current.items() if n not in fresh}, fresh


def counted(
    clickhouse: ClickHouse, company_id: str, zone: str, days: list[int], where: str = "1"
) -> dict[int, int]:
    """Unique clients of each of `days` counted from the calls (where the SQL term `where`
    holds as well), a few days per query; days without a client are left out."""
    found: dict[int, int] = {}
    for chunk in _spans(days):
        rows = clickhouse.query(
            f"""SELECT toUInt16(toDate(started_at, %(zone)s)) AS n,
                uniqExact(client) AS unique_clients
            FROM calls FINAL
            WHERE company_id = %(company_id)s AND {HAS_CLIENT} AND {where}
                AND started_at >= toDateTime(%(first_ts)s) AND started_at < toDateTime(%(end_ts)s)
                AND toUInt16(toDate(started_at, %(zone)s)) IN %(days)s
            GROUP BY n""",
            {
                "company_id": company_id,
                "zone": zone,
                "days": chunk,
                # a day's calls lie within a day and a half either side of its UTC midnight
                "first_ts": max(0, chunk[0] * DAY_S - DAY_S),
                "end_ts": (chunk[-1] + 2) * DAY_S,
            },
        )
        found.update({int(row["n"]): int(row["unique_clients"]) for row in rows})
    return found


def _spans(days: list[int]) -> list[tuple[int, ...]]:
    """The days in groups each within DAYS_PER_QUERY days (a query reads its group's span)."""
    spans: list[list[int]] = []
    for n in sorted(days):
        if spans and n - spans[-1][0] < DAYS_PER_QUERY:
            spans[-1].append(n)
        else:
            spans.append([n])
    return [tuple(span) for span in spans]


def recompute_stale(
    clickhouse: ClickHouse, company_id: str, zone: str, limit: int
) -> tuple[int, int]:
    """Up to `limit` stale days of the company recomputed (the oldest first), each stored with
    the version it was counted at (read before the calls, so a batch landing meanwhile leaves
    it stale); (days recomputed, days still stale)."""
    stale, _fresh = stale_days(clickhouse, company_id, zone)
    due = sorted(stale)[:limit]
    if not due:
        return 0, 0
    figures = counted(clickhouse, company_id, zone, due)
    rows = [(company_id, zone, _date(n), figures.get(n, 0), stale[n]) for n in due]
    clickhouse.insert("day_clients", COLUMNS, rows)
    return len(due), len(stale) - len(due)


def figures(ch: CompanyClickHouse, zone: str, first: int, end: int) -> dict[int, int] | None:
    """Unique clients of the whole company per day in [first, end) of `zone` (the zone its
    days are complete in): stored figures where fresh, the calls for the other days. None
    while an erasure is pending (the calls answer)."""
    if ch.hidden.client_keys or ch.hidden.devices or ch.day_zone != zone:
        return None
    stale, fresh = stale_days(ch.clickhouse, ch.company_id, zone, first, end)
    return {**fresh, **counted(ch.clickhouse, ch.company_id, zone, list(stale))}


def _date(n: int) -> date:
    return date.fromordinal(EPOCH_DAY.toordinal() + n)
