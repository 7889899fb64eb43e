"""Unique clients per local day (`day_clients`, migration 0012) and per local hour
(`hour_clients`, migration 0016) of the company's zone: the analytics day and hour series'
distinct count, which no per-employee bucket can hold (a client called by two employees, or on
two devices, counts once), stored per company and bucket.

A bucket's figure is computed from `calls FINAL` with the state of the bucket's aggregates it
matches, read first: the sum of the versions of the day's per-employee rows (`call_days`,
core/calls/aggregates.py), the version of the whole company's hour (`company_hours`, itself the
sum of its per-employee rows'). Every batch that stores a call of the bucket rewrites some of
those rows at a newer version, so a figure whose version no longer equals the bucket's current
one is stale, and the bucket is counted from the calls at read time (`figures`): exact by
construction, whatever the order of writes. In steady state only the buckets still receiving
calls are read from the calls; the worker's round (`recompute_stale`) brings the others' figures
up to date.

Erasures and retention delete figures (core/privacy/mutations.py): all of the company's after
an erasure's calls are gone (the round skips a company with an erasure pending, and reads of
it count from the calls meanwhile), the buckets before the cutoff with retention."""

from __future__ import annotations

from dataclasses import dataclass

from core.calls.aggregates import COMPANY_HOURS, DAY_S, DAYS, HOURS, Grain
from core.clickhouse import ClickHouse, Param
from core.company_clickhouse import CompanyClickHouse

HAS_CLIENT = "client != toUUID('00000000-0000-0000-0000-000000000000')"


@dataclass(frozen=True, slots=True)
class Kind:
    """Figures of one grain: their table and version column, and the aggregates whose
    versions say whether a figure is current."""

    table: str
    grain: Grain  # its column, key numbers and calls' bounds
    version_column: str
    versions_table: str  # rows of the grain's buckets, whose versions summed are the state
    span: int  # key numbers a query counts at most (a day of a 2,000-seat team: ~300,000 calls)
    per_round: int  # buckets the worker's round counts per company

    @property
    def columns(self) -> tuple[str, ...]:
        return ("company_id", "zone", self.grain.column, "unique_clients", self.version_column)

    def _numbers_sql(self, table: str, values: str) -> str:
        key = self.grain.number.format(self.grain.column)
        return f"""SELECT {key} AS n, {values} FROM {table} FINAL
            WHERE company_id = %(company_id)s AND zone = %(zone)s
                AND {key} >= %(first)s AND {key} < %(end)s"""

    @property
    def versions_sql(self) -> str:
        """The current state of each bucket of the company in `zone` in [first, end)."""
        return self._numbers_sql(self.versions_table, "sum(version) AS version") + " GROUP BY n"

    @property
    def stored_sql(self) -> str:
        return self._numbers_sql(self.table, f"unique_clients, {self.version_column} AS version")


DAY = Kind("day_clients", DAYS, "days_version", DAYS.table, 7, 31)
HOUR = Kind("hour_clients", HOURS, "hours_version", COMPANY_HOURS, 7 * DAY_S, 31 * 24)
KINDS = (DAY, HOUR)
_LAST = 2**32  # beyond every key number


def stale_figures(
    clickhouse: ClickHouse,
    company_id: str,
    zone: str,
    first: int = 0,
    end: int = _LAST,
    kind: Kind = DAY,
) -> tuple[dict[int, int], dict[int, int]]:
    """The buckets (key numbers) in [first, end) whose figure is missing or stale, with their
    current versions; and the fresh figures."""
    params: dict[str, Param] = {"company_id": company_id, "zone": zone, "first": first, "end": end}
    current = {
        int(row["n"]): int(row["version"]) for row in clickhouse.query(kind.versions_sql, params)
    }
    fresh: dict[int, int] = {}
    for row in clickhouse.query(kind.stored_sql, params):
        n = int(row["n"])
        if current.get(n) == int(row["version"]):
            fresh[n] = int(row["unique_clients"])
    return {n: v for n, v in current.items() if n not in fresh}, fresh


def counted(
    clickhouse: ClickHouse,
    company_id: str,
    zone: str,
    buckets: list[int],
    where: str = "1",
    kind: Kind = DAY,
) -> dict[int, int]:
    """Unique clients of each of `buckets` counted from the calls (where the SQL term `where`
    holds as well), a span of them per query; buckets without a client are left out."""
    of_call = kind.grain.number.format(kind.grain.of_call)
    found: dict[int, int] = {}
    for chunk in _spans(buckets, kind.span):
        first_ts, end_ts = kind.grain.call_bounds(chunk)
        rows = clickhouse.query(
            f"""SELECT {of_call} AS n, uniqExact(client) AS unique_clients
            FROM calls FINAL
            WHERE company_id = %(company_id)s AND {HAS_CLIENT} AND {where}
                AND started_at >= toDateTime(%(first_ts)s) AND started_at < toDateTime(%(end_ts)s)
                AND {of_call} IN %(buckets)s
            GROUP BY n""",
            {
                "company_id": company_id,
                "zone": zone,
                "buckets": chunk,
                "first_ts": max(0, first_ts),
                "end_ts": end_ts,
            },
        )
        found.update({int(row["n"]): int(row["unique_clients"]) for row in rows})
    return found


def _spans(buckets: list[int], span: int) -> list[tuple[int, ...]]:
    """The buckets in groups each within `span` key numbers (a query reads its group's span)."""
    spans: list[list[int]] = []
    for n in sorted(buckets):
        if spans and n - spans[-1][0] < span:
            spans[-1].append(n)
        else:
            spans.append([n])
    return [tuple(group) for group in spans]


def recompute_stale(
    clickhouse: ClickHouse, company_id: str, zone: str, limit: int, kind: Kind = DAY
) -> tuple[int, int]:
    """Up to `limit` stale buckets of the company recomputed (the oldest first), each stored
    with the version it was counted at (read before the calls, so a batch landing meanwhile
    leaves it stale); (buckets recomputed, buckets still stale)."""
    stale, _fresh = stale_figures(clickhouse, company_id, zone, kind=kind)
    due = sorted(stale)[:limit]
    if not due:
        return 0, 0
    figures = counted(clickhouse, company_id, zone, due, kind=kind)
    rows = [(company_id, zone, kind.grain.value(n), figures.get(n, 0), stale[n]) for n in due]
    clickhouse.insert(kind.table, kind.columns, rows)
    return len(due), len(stale) - len(due)


def figures(
    ch: CompanyClickHouse, zone: str, first: int, end: int, kind: Kind = DAY
) -> dict[int, int] | None:
    """Unique clients of the whole company per bucket in [first, end) of `zone` (the zone its
    days and hours are complete in): stored figures where fresh, the calls for the others.
    None while an erasure is pending (the calls answer)."""
    if ch.hidden.client_keys or ch.hidden.devices or ch.day_zone != zone:
        return None
    stale, fresh = stale_figures(ch.clickhouse, ch.company_id, zone, first, end, kind)
    return {**fresh, **counted(ch.clickhouse, ch.company_id, zone, list(stale), kind=kind)}
