"""Per-employee aggregates of calls, kept by the calls worker in three grains, each one row per
company, bucket, employee and device with what the counting reports need, so they read a row
per bucket instead of every call of their range:

- `call_quarters` (migration 0008): quarter hours of UTC. Every zone's local hours and days in
  use today are whole quarters (+05:30, +05:45, and DST shifts of 30 or 60 minutes), so they
  serve any zone: hour series, a `tz` override, a range not on local days. Only a zone whose
  offset is not a multiple of 15 minutes somewhere in the range falls back to the raw calls
  (`serves`).
- `call_days` (migration 0009): local days of the company's zone, ~30x fewer rows than quarters
  (a rep's day holds ~100 calls, a quarter ~3.5): the summary, employees, day/weekday/employee/
  type series and working hours over whole local days. Written for the zone the worker knows
  the company by; when a company changes its zone (or had no days yet), `rebuild_days` writes
  every day in the new one, and reads use days only once the control plane says they are
  complete for the company's zone (`companies.rollup_zone`).
- `call_hours` (migration 0014): local hours of the company's zone (each hour's start, an
  instant), ~4x fewer rows than quarters: the series by hour and by hour of day. Recomputed by
  local day from one scan of its calls grouped by hour; the day's rows are the fold of its
  hours' (`fold`), so days cost no scan of their own. ClickHouse counts a local hour as whole hours from the local day's
  start; after a DST change of half an hour (Lord Howe) those straddle two clock hours, so a
  range holding one is not read from hours (`hours_serve`).

Exact by construction: a row is never added to, it is recomputed from `calls FINAL` for the keys
a batch touched (`recompute`), so a replayed batch, a re-sent call with a corrected duration or
two workers write the same row again. A row's `version` is the newest call version of its
device in the batch that caused it (ingest's acceptance time; `Touched`), so a slower write of
an older state loses; a key whose calls all moved to another employee gets a zero row (a
tombstone) of that version. The calls of pending erasures count nowhere (`Excluded`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from core.calls import client_states
from core.clickhouse import ClickHouse
from core.company_clickhouse import as_uuid
from schemas.payloads import CallType

QUARTER_S = 900
DAY_S = 86_400
EPOCH_DAY = date(1970, 1, 1)
QUARTER = "toStartOfFifteenMinutes(started_at)"
TYPES = tuple(t.value for t in CallType)
CONNECTABLE = ("incoming", "outgoing")
# first_activity of a bucket without activity calls: greater than any start
NO_ACTIVITY = 4294967295
VALUE_COLUMNS = (
    *TYPES,
    *(f"{t}_connected" for t in CONNECTABLE),
    *(f"{t}_talk_s" for t in CONNECTABLE),
    *(f"{t}_longest" for t in CONNECTABLE),
    *(f"last_{t}" for t in TYPES),
    "first_activity",
    "activity_end",
)
# keys per recompute query: a key is ~60 bytes of SQL, ClickHouse parses 256 KiB at most
KEYS_PER_QUERY = 2000

_CONNECTED = "(type = '{t}' AND duration_s > 0)"
# METRICS.md "Working hours": outgoing (any duration), connected incoming, rejected
_ACTIVITY = "(type IN ('outgoing', 'rejected') OR (type = 'incoming' AND duration_s > 0))"
# the longest connected call as one number: duration, then the later start
_LONGEST = "toUInt64(duration_s) * 4294967296 + toUnixTimestamp(started_at)"


def _value_sql() -> str:
    """Each value column from the calls of one key (sums of 0/1 conditions vectorise)."""
    parts = [f"toUInt32(sum(type = '{t}')) AS {t}" for t in TYPES]
    for t in CONNECTABLE:
        parts.append(f"toUInt32(sum({_CONNECTED.format(t=t)})) AS {t}_connected")
    for t in CONNECTABLE:
        parts.append(f"sum(if({_CONNECTED.format(t=t)}, toUInt64(duration_s), 0)) AS {t}_talk_s")
    for t in CONNECTABLE:
        parts.append(f"max(if({_CONNECTED.format(t=t)}, {_LONGEST}, 0)) AS {t}_longest")
    for t in TYPES:
        parts.append(f"max(if(type = '{t}', toUnixTimestamp(started_at), 0)) AS last_{t}")
    parts.append(
        f"min(if({_ACTIVITY}, toUnixTimestamp(started_at), {NO_ACTIVITY})) AS first_activity"
    )
    # UInt32 as the tables hold it (the sum is UInt64): a read's UNION ALL of stored rows and
    # rows recomputed from the calls needs the same types in both on ClickHouse 18.16
    parts.append(
        "toUInt32(max(if("
        f"{_ACTIVITY}, toUnixTimestamp(started_at) + duration_s, 0))) AS activity_end"
    )
    return ",\n    ".join(parts)


VALUES_SQL = _value_sql()


@dataclass(frozen=True, slots=True)
class Grain:
    """A bucket of the aggregates: its table and column, a call's bucket in SQL, and the bucket
    as the whole number the keys hold (a quarter's Unix seconds, a local day's days since
    1970). `zoned`: the rows name the zone of their buckets (`zone` column, `%(zone)s`)."""

    table: str
    column: str
    of_call: str  # SQL: a call's bucket, as the column stores it
    number: str  # SQL: a bucket value ({}) as its key number
    size_s: int
    zoned: bool
    # what a recompute is scoped by when coarser than the buckets: that grain, and its key of a
    # stored row in SQL (local hours are recomputed by local day: a week's rebuild names a
    # device's days, not each of their hours)
    scoped_by: tuple[Grain, str] | None = None

    @property
    def scoping(self) -> Grain:
        return self.scoped_by[0] if self.scoped_by else self

    @property
    def scope_of_row(self) -> str:
        """SQL: a stored row's scope key number."""
        of_row = self.scoped_by[1] if self.scoped_by else self.column
        return self.scoping.number.format(of_row)

    @property
    def local_days(self) -> bool:
        return self.zoned and self.size_s == DAY_S

    @property
    def key_columns(self) -> tuple[str, ...]:
        zone = ("zone",) if self.zoned else ()
        return ("company_id", *zone, self.column, "employee", "device_id")

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.key_columns, *VALUE_COLUMNS, "version")

    def key(self, ts: int, zone: str) -> int:
        """The key number of the bucket holding Unix second `ts`."""
        if not self.zoned:
            return ts - ts % self.size_s
        local = datetime.fromtimestamp(ts, ZoneInfo(zone))
        if self.local_days:
            return (local.date() - EPOCH_DAY).days
        # whole hours from the local day's start, as ClickHouse's toStartOfHour counts them
        # (the same as the local hour's start, but after a DST change of half an hour)
        start = day_start(ts, zone)
        return start + (ts - start) // 3600 * 3600

    def start(self, ts: int, zone: str) -> int:
        """The first second of the bucket holding Unix second `ts`."""
        return day_start(ts, zone) if self.local_days else self.key(ts, zone)

    def value(self, key: int) -> datetime | date:
        """A key number as the column stores it."""
        if not self.local_days:
            return datetime.fromtimestamp(key, UTC)
        return EPOCH_DAY + timedelta(days=key)

    def call_bounds(self, keys: Iterable[int]) -> tuple[int, int]:
        """Unix seconds around every call of these buckets (a local day within a UTC day
        either side), so ClickHouse skips the weeks of `calls` outside them."""
        found = list(keys)
        if not self.local_days:
            return min(found), max(found) + self.size_s
        return (min(found) - 1) * DAY_S, (max(found) + 2) * DAY_S


QUARTERS = Grain("call_quarters", "quarter", QUARTER, "toUnixTimestamp({})", QUARTER_S, False)
DAYS = Grain("call_days", "day", "toDate(started_at, %(zone)s)", "toUInt16({})", DAY_S, True)
HOURS = Grain(
    "call_hours",
    "hour",
    "toStartOfHour(started_at, %(zone)s)",
    "toUnixTimestamp({})",
    3600,
    True,
    (DAYS, "toDate(hour, %(zone)s)"),
)
RECOMPUTED = (QUARTERS, HOURS)  # what a recompute names: the hours write their days
QUARTER_COLUMNS = QUARTERS.columns

# The rows of `calls` where `selection` holds, aggregated per key of a grain: what the worker
# writes and what a read puts in place of the rows it may not use (pending erasures).
RECOMPUTE_SQL = """SELECT company_id, {bucket} AS {column}, employee, device_id,
    {values}
FROM calls FINAL
WHERE {selection}
GROUP BY company_id, {column}, employee, device_id"""


def recompute_sql(grain: Grain, selection: str) -> str:
    return RECOMPUTE_SQL.format(
        bucket=grain.of_call, column=grain.column, values=VALUES_SQL, selection=selection
    )


# Every key from the calls stored so far, at the newest version of its calls: migration 0008
# (a copy, as migrations are frozen) and history generated straight into `calls` (bench/).
BACKFILL_SQL = f"""INSERT INTO call_quarters ({", ".join(QUARTER_COLUMNS)})
SELECT company_id, {QUARTER} AS quarter, employee, device_id,
    {VALUES_SQL},
    max(version) AS version
FROM calls FINAL
GROUP BY company_id, quarter, employee, device_id"""


@dataclass(frozen=True, slots=True)
class Scope:
    """Keys (device, key number of the bucket, or of what scopes the grain: `Grain.scoped_by`)
    of one grain in one company, the version each device's rows get, and the zone of the
    buckets (days, hours)."""

    grain: Grain
    company_id: str
    keys: frozenset[tuple[str, int]]
    versions: Mapping[str, int]
    zone: str = "UTC"

    def chunks(self) -> Iterator[dict[str, Any]]:
        """Query parameters for the keys, KEYS_PER_QUERY at a time."""
        ordered = sorted(self.keys, key=lambda key: (key[1], key[0]))
        for at in range(0, len(ordered), KEYS_PER_QUERY):
            keys = ordered[at : at + KEYS_PER_QUERY]
            first_ts, end_ts = self.grain.scoping.call_bounds(key for _device, key in keys)
            yield {
                "company_id": self.company_id,
                "zone": self.zone,
                "keys": tuple(keys),
                "first_key": min(key for _device, key in keys),
                "last_key": max(key for _device, key in keys),
                "first_ts": first_ts,
                "end_ts": end_ts,
            }


@dataclass(frozen=True, slots=True)
class Touched:
    """What stored calls changed in one company: the (device, start) of each call, and the
    version each device's rows get: the newest call version of that device in the batch. A
    device's uploads reach one partition in order, so that is the newest of all its calls: it
    beats every row written for the device before, a tombstone included."""

    company_id: str
    starts: frozenset[tuple[str, int]]
    versions: Mapping[str, int]
    clients: frozenset[str] = frozenset()  # blind indexes (hex) of the calls with a number

    def scope(self, grain: Grain, zone: str = "UTC") -> Scope:
        keys = frozenset((device, grain.scoping.key(ts, zone)) for device, ts in self.starts)
        return Scope(grain, self.company_id, keys, self.versions, zone)


def touched(rows: Iterable[Sequence[Any]], columns: Sequence[str]) -> list[Touched]:
    """Per company, the calls the `calls` rows are (rows as the worker inserts them)."""
    at = {
        name: columns.index(name)
        for name in ("company_id", "device_id", "started_at", "version", "client_key")
    }
    starts: dict[str, set[tuple[str, int]]] = {}
    versions: dict[str, dict[str, int]] = {}
    clients: dict[str, set[str]] = {}
    for row in rows:
        company, device = row[at["company_id"]], row[at["device_id"]]
        starts.setdefault(company, set()).add((device, int(row[at["started_at"]].timestamp())))
        newest = versions.setdefault(company, {})
        newest[device] = max(newest.get(device, 0), int(row[at["version"]]))
        if row[at["client_key"]]:
            clients.setdefault(company, set()).add(row[at["client_key"]])
    return [
        Touched(c, frozenset(s), versions[c], frozenset(clients.get(c, ())))
        for c, s in sorted(starts.items())
    ]


# The keys of a scope: `(device_id, key) IN keys` decides; the bounds let ClickHouse skip the
# weeks outside them (`calls` is partitioned by week of started_at).
SCOPE = """company_id = %(company_id)s
    AND started_at >= toDateTime(%(first_ts)s) AND started_at < toDateTime(%(end_ts)s)
    AND (device_id, {key}) IN %(keys)s"""


@dataclass(frozen=True, slots=True)
class Excluded:
    """Calls that count nowhere although still in `calls`: the numbers (blind indexes) and
    devices of erasures, until their mutations have removed them."""

    client_keys: frozenset[str] = frozenset()
    devices: frozenset[str] = frozenset()

    def terms(self, params: dict[str, Any]) -> list[str]:
        terms = []
        if self.client_keys:
            params["excluded_keys"] = tuple(sorted(self.client_keys))
            terms.append("client_key NOT IN %(excluded_keys)s")
        if self.devices:
            params["excluded_devices"] = tuple(sorted(self.devices))
            terms.append("device_id NOT IN %(excluded_devices)s")
        return terms


def recompute(clickhouse: ClickHouse, scope: Scope, excluded: Excluded = Excluded()) -> int:
    """Write the current aggregates of the scope's keys from `calls FINAL` (without the
    excluded calls); returns the rows written. Idempotent: the rows follow from `calls`. A
    grain scoped by a coarser one writes that one's rows too, as the fold of its own (local
    hours give their days): one scan of the calls for both. Local hours then fold the whole
    company's hours of their days (once, after every chunk)."""
    grain = scope.grain
    of_call = grain.scoping.number.format(grain.scoping.of_call)
    coarser = replace(scope, grain=grain.scoping) if grain.scoped_by else None
    written = 0
    for params in scope.chunks():
        selection = " AND ".join([SCOPE.format(key=of_call), *excluded.terms(params)])
        fresh = clickhouse.query(
            f"""SELECT company_id, {grain.number.format(grain.column)} AS bucket, employee,
                device_id, {", ".join(VALUE_COLUMNS)}
            FROM ({recompute_sql(grain, selection)})""",
            params,
        )
        written += _replace(clickhouse, scope, params, fresh)
        if coarser:
            written += _replace(clickhouse, coarser, params, fold(fresh, coarser.grain, scope.zone))
    if grain is HOURS and scope.keys:
        written += _company_hours(clickhouse, scope)
    return written


def _replace(
    clickhouse: ClickHouse,
    scope: Scope,
    params: Mapping[str, Any],
    fresh: Sequence[Mapping[str, Any]],
) -> int:
    """Write the fresh rows of one chunk of keys, and a tombstone for each stored row of those
    keys that has none (no call of it left: moved to another employee, erased)."""
    grain = scope.grain
    zone = "AND zone = %(zone)s" if grain.zoned else ""
    scoped = grain.scope_of_row
    before = clickhouse.query(
        f"""SELECT DISTINCT device_id, {grain.number.format(grain.column)} AS bucket, employee
        FROM {grain.table}
        WHERE company_id = %(company_id)s {zone}
            AND {scoped} >= %(first_key)s AND {scoped} <= %(last_key)s
            AND (device_id, {scoped}) IN %(keys)s""",
        params,
    )
    produced = {(row["device_id"], int(row["bucket"]), int(row["employee"])) for row in fresh}
    rows = [_row(scope, row, scope.versions[row["device_id"]]) for row in fresh]
    for row in before:
        key = (row["device_id"], int(row["bucket"]), int(row["employee"]))
        if key not in produced:
            rows.append(_tombstone(scope, key))
    if rows:
        clickhouse.insert(grain.table, grain.columns, rows)
    return len(rows)


# How a value column of coarser buckets follows from the finer ones it holds (the aggregate
# functions of Python and of ClickHouse by the same name)
FOLDS: dict[str, str] = {
    name: (
        "min"
        if name == "first_activity"
        else "max"
        if name.endswith("_longest") or name.startswith("last_") or name == "activity_end"
        else "sum"
    )
    for name in VALUE_COLUMNS
}
_FOLD_FUNCTIONS: dict[str, Callable[[Iterable[int]], int]] = {"min": min, "max": max, "sum": sum}


def fold(rows: Iterable[Mapping[str, Any]], grain: Grain, zone: str) -> list[dict[str, Any]]:
    """Rows of finer buckets (local hours) as the rows of `grain`'s buckets (local days) that
    hold them: per company, bucket, employee and device, each column as `FOLDS` says."""
    groups: dict[tuple[Any, int, int, str], list[Mapping[str, Any]]] = {}
    buckets: dict[int, int] = {}
    for row in rows:
        start = int(row["bucket"])
        if start not in buckets:
            buckets[start] = grain.key(start, zone)
        key = (row["company_id"], buckets[start], int(row["employee"]), row["device_id"])
        groups.setdefault(key, []).append(row)
    return [
        {
            "company_id": company_id,
            "bucket": bucket,
            "employee": employee,
            "device_id": device_id,
            **{
                name: _FOLD_FUNCTIONS[how](int(r[name]) for r in held)
                for name, how in FOLDS.items()
            },
        }
        for (company_id, bucket, employee, device_id), held in groups.items()
    ]


# The whole company's rows per local hour (migration 0015): its `call_hours` rows folded, at
# the sum of their versions. Rows of `call_hours` are only ever replaced by a higher version
# (a tombstone included) or added, never deleted but with their whole hour (retention, purge,
# another zone's rows), so a later state of an hour has a greater sum: whichever worker folds
# last, the newest fold wins. A device's erasure tombstones its hours for that reason
# (`without_devices`) instead of deleting them.
COMPANY_HOURS = "company_hours"
DAYS_PER_FOLD = 31
COMPANY_HOURS_COLUMNS = ("company_id", "zone", "hour", *VALUE_COLUMNS, "version")
# (prefixed: an alias by a column's own name would shadow the column it folds)
COMPANY_HOURS_SQL = f"""SELECT company_id, zone, toUnixTimestamp(hour) AS hour_ts,
    {", ".join(f"{how}({name}) AS w_{name}" for name, how in FOLDS.items())},
    sum(version) AS w_version
FROM call_hours FINAL
WHERE company_id = %(company_id)s AND zone = %(zone)s
    AND hour >= toDateTime(%(first_ts)s) AND hour < toDateTime(%(end_ts)s)
    AND toUInt16(toDate(hour, %(zone)s)) IN %(days)s
GROUP BY company_id, zone, hour"""


def _company_hours(clickhouse: ClickHouse, scope: Scope) -> int:
    """The whole company's hours of the scope's local days, folded from what `call_hours`
    holds now (after this writer's rows), a month of days per query; the rows written."""
    days = sorted({day for _device, day in scope.keys})
    written = 0
    for at in range(0, len(days), DAYS_PER_FOLD):
        chunk = tuple(days[at : at + DAYS_PER_FOLD])
        first_ts, end_ts = DAYS.call_bounds(chunk)
        rows = clickhouse.query(
            COMPANY_HOURS_SQL,
            {
                "company_id": scope.company_id,
                "zone": scope.zone,
                "days": chunk,
                "first_ts": first_ts,
                "end_ts": end_ts,
            },
        )
        if rows:
            clickhouse.insert(
                COMPANY_HOURS,
                COMPANY_HOURS_COLUMNS,
                [
                    (
                        row["company_id"],
                        row["zone"],
                        datetime.fromtimestamp(int(row["hour_ts"]), UTC),
                        *(int(row[f"w_{name}"]) for name in (*VALUE_COLUMNS, "version")),
                    )
                    for row in rows
                ],
            )
        written += len(rows)
    return written


def keep(
    clickhouse: ClickHouse, changed: Touched, zone: str, excluded: Excluded = Excluded()
) -> int:
    """The worker's aggregates of what `changed` touched: its quarters, its local days in
    `zone` (the company's) and its clients' states (client_states.py; those of erased numbers
    go with their calls); the rows (and clients) written."""
    buckets = sum(
        recompute(clickhouse, changed.scope(grain, zone), excluded) for grain in RECOMPUTED
    )
    clients = [as_uuid(key) for key in changed.clients - excluded.client_keys]
    return buckets + client_states.recompute(clickhouse, changed.company_id, clients, zone)


def without_number(clickhouse: ClickHouse, company_id: str, client_key: str) -> int:
    """Before an erasure's mutations delete a number's calls (`client_key`, its blind index):
    its quarters and days (in every zone the company has days in) rewritten without them,
    each device's rows one version above the newest of its calls, so they replace every row
    written before. After the mutations there is nothing left to find: a repeat (a crash
    between) writes nothing."""
    params = {"company_id": company_id, "client": as_uuid(client_key)}
    found = clickhouse.query(
        """SELECT DISTINCT device_id, toUnixTimestamp(started_at) AS ts FROM calls
        WHERE company_id = %(company_id)s AND client = toUUID(%(client)s)""",
        params,
    )
    if not found:
        return 0
    starts = frozenset((row["device_id"], int(row["ts"])) for row in found)
    devices = tuple(sorted({device for device, _ts in starts}))
    newest = clickhouse.query(
        """SELECT device_id, max(version) AS version FROM calls
        WHERE company_id = %(company_id)s AND device_id IN %(devices)s GROUP BY device_id""",
        {"company_id": company_id, "devices": devices},
    )
    changed = Touched(
        company_id, starts, {row["device_id"]: int(row["version"]) + 1 for row in newest}
    )
    excluded = Excluded(client_keys=frozenset({client_key}))
    zones = clickhouse.query(
        "SELECT DISTINCT zone FROM call_days WHERE company_id = %(company_id)s", params
    )
    scopes = [changed.scope(QUARTERS)]
    scopes += [changed.scope(HOURS, row["zone"]) for row in zones]
    return sum(recompute(clickhouse, scope, excluded) for scope in scopes)


def without_devices(clickhouse: ClickHouse, company_id: str, devices: Sequence[str]) -> int:
    """Before a device erasure's mutations: the devices' local hours (and days) in every zone
    the company has hours in rewritten as zero rows one version above their newest, and the
    whole company's hours of those days folded again, so they drop the devices at once. The
    zero rows stay (COMPANY_HOURS says why); a repeat writes them again, a version higher."""
    params: dict[str, Any] = {"company_id": company_id, "devices": tuple(sorted(devices))}
    zones = clickhouse.query(
        """SELECT DISTINCT zone FROM call_hours
        WHERE company_id = %(company_id)s AND device_id IN %(devices)s""",
        params,
    )
    written = 0
    for zone in (row["zone"] for row in zones):
        found = clickhouse.query(
            f"""SELECT device_id, {HOURS.scope_of_row} AS day, max(version) AS version
            FROM call_hours
            WHERE company_id = %(company_id)s AND zone = %(zone)s AND device_id IN %(devices)s
            GROUP BY device_id, day""",
            {**params, "zone": zone},
        )
        keys = frozenset((row["device_id"], int(row["day"])) for row in found)
        versions: dict[str, int] = {}
        for row in found:
            versions[row["device_id"]] = max(versions.get(row["device_id"], 0), row["version"] + 1)
        scope = Scope(HOURS, company_id, keys, versions, zone)
        written += recompute(clickhouse, scope, Excluded(devices=frozenset(devices)))
    return written


def rebuild_days(
    clickhouse: ClickHouse,
    company_id: str,
    zone: str,
    excluded: Excluded = Excluded(),
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> int:
    """Every local day and hour of the company's calls in `zone`, recomputed as the worker
    would (a company that changed its zone, or days that never existed): a week at a time,
    each device's rows at the newest version of its calls, which a worker writing the same
    day meanwhile matches or beats; then the clients' rows per local hour and weekday in
    `zone` (client_states.py). `progress(weeks done, weeks)`; the rows and clients written."""
    params = {"company_id": company_id, "zone": zone}
    newest = clickhouse.query(
        """SELECT device_id, max(version) AS version, toUInt16(min(toDate(started_at, %(zone)s)))
            AS first_day, toUInt16(max(toDate(started_at, %(zone)s))) AS last_day
        FROM calls WHERE company_id = %(company_id)s GROUP BY device_id""",
        params,
    )
    if not newest:
        return 0
    versions = {row["device_id"]: int(row["version"]) for row in newest}
    first = min(int(row["first_day"]) for row in newest)
    last = max(int(row["last_day"]) for row in newest)
    weeks = range(first, last + 1, 7)
    written = 0
    for done, week in enumerate(weeks):
        bounds = {"first_ts": (week - 1) * DAY_S, "end_ts": (week + 8) * DAY_S}
        days = clickhouse.query(
            f"""SELECT DISTINCT device_id, toUInt16({DAYS.of_call}) AS day FROM calls
            WHERE company_id = %(company_id)s
                AND started_at >= toDateTime(%(first_ts)s) AND started_at < toDateTime(%(end_ts)s)
                AND toUInt16({DAYS.of_call}) >= %(week)s
                AND toUInt16({DAYS.of_call}) < %(week)s + 7""",
            {**params, **bounds, "week": week},
        )
        keys = frozenset((row["device_id"], int(row["day"])) for row in days)
        if keys:  # the week's local hours, and their days
            written += recompute(
                clickhouse, Scope(HOURS, company_id, keys, versions, zone), excluded
            )
        progress(done + 1, len(weeks))
    # the per-client rows that depend on the zone too: its local hours and weekdays
    erased = [as_uuid(key) for key in excluded.client_keys]
    return written + client_states.rebuild(clickhouse, company_id, zone, ("client_hours",), erased)


def day_start(ts: int, zone: str) -> int:
    """The first second of the local day holding Unix second `ts` in `zone` (a quarter hour
    whose local date it is: a midnight that a DST change skips is found too)."""
    return _day_start(datetime.fromtimestamp(ts, ZoneInfo(zone)).date(), zone)


@lru_cache(maxsize=4096)
def _day_start(today: date, zone: str) -> int:
    tz = ZoneInfo(zone)
    start = int(datetime.combine(today, datetime.min.time(), tzinfo=tz).timestamp())
    start -= start % QUARTER_S
    while datetime.fromtimestamp(start - QUARTER_S, tz).date() == today:
        start -= QUARTER_S
    while datetime.fromtimestamp(start, tz).date() != today:
        start += QUARTER_S
    return start


def _row(scope: Scope, row: Mapping[str, Any], version: int) -> tuple[Any, ...]:
    zone = (scope.zone,) if scope.grain.zoned else ()
    return (
        scope.company_id,
        *zone,
        scope.grain.value(int(row["bucket"])),
        int(row["employee"]),
        row["device_id"],
        *(int(row[name]) for name in VALUE_COLUMNS),
        version,
    )


def _tombstone(scope: Scope, key: tuple[str, int, int]) -> tuple[Any, ...]:
    device_id, bucket, employee = key
    zeros = dict.fromkeys(VALUE_COLUMNS, 0)
    zeros["first_activity"] = NO_ACTIVITY
    fields = {"bucket": bucket, "employee": employee, "device_id": device_id, **zeros}
    return _row(scope, fields, scope.versions[device_id])


def serves(zone: ZoneInfo, start: datetime, end: datetime) -> bool:
    """Whether quarters can answer a range in `zone`: its ends fall on quarters and the zone's
    offset is a whole number of quarters throughout."""
    start_ts, end_ts = int(start.timestamp()), int(end.timestamp())
    if start_ts % QUARTER_S or end_ts % QUARTER_S:
        return False
    return all(offset % QUARTER_S == 0 for offset in _offsets(zone.key, start_ts, end_ts))


def hours_serve(zone: str, start_ts: int, end_ts: int) -> bool:
    """Whether local hours (ClickHouse's: whole hours from the local day's start) are the
    zone's clock hours throughout the range: no offset change of part of an hour in it (Lord
    Howe's half-hour DST), after which they would straddle two clock hours."""
    return len({offset % 3600 for offset in _offsets(zone, start_ts, end_ts)}) == 1


@lru_cache(maxsize=1024)
def _offsets(zone_key: str, start_ts: int, end_ts: int) -> frozenset[int]:
    """The zone's offsets (seconds; a zone without one counts as an odd second) in the range:
    sampled once a day, and hourly within a day where the offset changes (zones change offsets
    on whole hours, and no offset lasts less than a day). A report asks for the same range
    several times (summary, working time, team totals): cached."""
    zone = ZoneInfo(zone_key)

    def offset(ts: int) -> int:
        found = datetime.fromtimestamp(ts, zone).utcoffset()
        return 1 if found is None else int(found.total_seconds())

    found = {offset(end_ts)}
    day = 86_400
    for ts in range(start_ts, end_ts + 1, day):
        following = min(ts + day, end_ts)
        hours = range(ts, following + 1, 3600) if offset(following) != offset(ts) else (ts,)
        found.update(offset(hour) for hour in hours)
    return frozenset(found)
