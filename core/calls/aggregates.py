"""Per-employee aggregates of calls, kept by the calls worker (`call_quarters`, migration 0008):
one row per company, quarter hour, employee and device with what the counting reports need, so
they read a row per quarter instead of every call of their range.

The grain is a quarter hour of UTC: every zone's local hours and days in use today are whole
quarters (+05:30, +05:45, and DST shifts of 30 or 60 minutes), so the same rows serve the
company's zone and any `tz` of the request; only a zone whose offset is not a multiple of 15
minutes somewhere in the range falls back to the raw calls (`serves`).

Exact by construction: a row is never added to, it is recomputed from `calls FINAL` for the keys
a batch touched (`recompute`), so a replayed batch, a re-sent call with a corrected duration or
two workers write the same row again. A row's `version` is the newest call version of its
device in the batch that caused it (ingest's acceptance time; `Touched`), so a slower write of
an older state loses; a key whose calls all moved to another employee gets a zero row (a
tombstone) of that version. The calls of pending erasures count nowhere (`Excluded`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from core.clickhouse import ClickHouse
from schemas.payloads import CallType

QUARTER_S = 900
QUARTER = "toStartOfFifteenMinutes(started_at)"
TYPES = tuple(t.value for t in CallType)
CONNECTABLE = ("incoming", "outgoing")
# first_activity of a quarter without activity calls: greater than any start
NO_ACTIVITY = 4294967295
KEY_COLUMNS = ("company_id", "quarter", "employee", "device_id")
VALUE_COLUMNS = (
    *TYPES,
    *(f"{t}_connected" for t in CONNECTABLE),
    *(f"{t}_talk_s" for t in CONNECTABLE),
    *(f"{t}_longest" for t in CONNECTABLE),
    *(f"last_{t}" for t in TYPES),
    "first_activity",
    "activity_end",
)
QUARTER_COLUMNS = (*KEY_COLUMNS, *VALUE_COLUMNS, "version")

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
    parts.append(
        f"max(if({_ACTIVITY}, toUnixTimestamp(started_at) + duration_s, 0)) AS activity_end"
    )
    return ",\n    ".join(parts)


VALUES_SQL = _value_sql()
# The rows of `calls` where `selection` holds, aggregated per key: what the worker writes and
# what a read puts in place of the rows it may not use (pending erasures).
RECOMPUTE_SQL = """SELECT company_id, {quarter} AS quarter, employee, device_id,
    {values}
FROM calls FINAL
WHERE {selection}
GROUP BY company_id, quarter, employee, device_id"""


# Every key from the calls stored so far, at the newest version of its calls: migration 0008
# (a copy, as migrations are frozen) and history generated straight into `calls` (bench/).
BACKFILL_SQL = f"""INSERT INTO call_quarters ({", ".join(QUARTER_COLUMNS)})
SELECT company_id, {QUARTER} AS quarter, employee, device_id,
    {VALUES_SQL},
    max(version) AS version
FROM calls FINAL
GROUP BY company_id, quarter, employee, device_id"""


@dataclass(frozen=True, slots=True)
class Touched:
    """What stored calls changed in one company: (device, quarter start) keys, and the version
    each device's rows get: the newest call version of that device in the batch. A device's
    uploads reach one partition in order, so that is the newest of all its calls: it beats
    every row written for the device before, a tombstone included."""

    company_id: str
    keys: frozenset[tuple[str, int]]
    versions: Mapping[str, int]

    def params(self) -> dict[str, Any]:
        starts = [quarter for _device, quarter in self.keys]
        return {
            "company_id": self.company_id,
            "keys": tuple(sorted(self.keys)),
            "first_ts": min(starts),
            "end_ts": max(starts) + QUARTER_S,
        }


def touched(rows: Iterable[Sequence[Any]], columns: Sequence[str]) -> list[Touched]:
    """Per company, the keys the `calls` rows fall in (rows as the worker inserts them)."""
    at = {name: columns.index(name) for name in ("company_id", "device_id", "started_at")}
    version_at = columns.index("version")
    keys: dict[str, set[tuple[str, int]]] = {}
    versions: dict[str, dict[str, int]] = {}
    for row in rows:
        company, device = row[at["company_id"]], row[at["device_id"]]
        ts = int(row[at["started_at"]].timestamp())
        keys.setdefault(company, set()).add((device, ts - ts % QUARTER_S))
        newest = versions.setdefault(company, {})
        newest[device] = max(newest.get(device, 0), int(row[version_at]))
    return [Touched(c, frozenset(k), versions[c]) for c, k in sorted(keys.items())]


# The keys of a scope: `(device_id, quarter) IN keys` decides; the bounds let ClickHouse skip
# the weeks outside them (`calls` is partitioned by week of started_at).
SCOPE = """company_id = %(company_id)s
    AND started_at >= toDateTime(%(first_ts)s) AND started_at < toDateTime(%(end_ts)s)
    AND (device_id, {quarter}) IN %(keys)s"""


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


def recompute(clickhouse: ClickHouse, scope: Touched, excluded: Excluded = Excluded()) -> int:
    """Write the current aggregates of the scope's keys from `calls FINAL` (without the
    excluded calls); returns the rows written. Idempotent: the rows follow from `calls`."""
    params = scope.params()
    selection = " AND ".join([SCOPE.format(quarter=QUARTER), *excluded.terms(params)])
    recomputed = RECOMPUTE_SQL.format(quarter=QUARTER, values=VALUES_SQL, selection=selection)
    fresh = clickhouse.query(
        f"""SELECT company_id, toUnixTimestamp(quarter) AS quarter, employee, device_id,
            {", ".join(VALUE_COLUMNS)}
        FROM ({recomputed})""",
        params,
    )
    written = {(row["device_id"], int(row["quarter"]), int(row["employee"])) for row in fresh}
    before = clickhouse.query(
        """SELECT DISTINCT device_id, toUnixTimestamp(quarter) AS quarter, employee
        FROM call_quarters
        WHERE company_id = %(company_id)s
            AND quarter >= toDateTime(%(first_ts)s) AND quarter < toDateTime(%(end_ts)s)
            AND (device_id, quarter) IN %(keys)s""",
        params,
    )
    rows = [_row(row, scope.versions[row["device_id"]]) for row in fresh]
    for row in before:
        key = (row["device_id"], int(row["quarter"]), int(row["employee"]))
        if key not in written:  # no call of it left (moved to another employee, erased)
            rows.append(_tombstone(scope.company_id, key, scope.versions[key[0]]))
    if rows:
        clickhouse.insert("call_quarters", QUARTER_COLUMNS, rows)
    return len(rows)


def without_number(clickhouse: ClickHouse, company_id: str, client_key: str) -> int:
    """Before an erasure's mutations delete a number's calls (`client_key`, its blind index):
    its quarters rewritten without them, each device's rows one version above the
    newest of its calls, so they replace every row written before. After the mutations there
    is nothing left to find: a repeat (a crash between) writes nothing."""
    params = {"company_id": company_id, "client": str(uuid.UUID(client_key))}
    found = clickhouse.query(
        f"""SELECT DISTINCT device_id, toUnixTimestamp({QUARTER}) AS quarter FROM calls
        WHERE company_id = %(company_id)s AND client = toUUID(%(client)s)""",
        params,
    )
    if not found:
        return 0
    keys = frozenset((row["device_id"], int(row["quarter"])) for row in found)
    devices = tuple(sorted({device for device, _quarter in keys}))
    newest = clickhouse.query(
        """SELECT device_id, max(version) AS version FROM calls
        WHERE company_id = %(company_id)s AND device_id IN %(devices)s GROUP BY device_id""",
        {"company_id": company_id, "devices": devices},
    )
    versions = {row["device_id"]: int(row["version"]) + 1 for row in newest}
    excluded = Excluded(client_keys=frozenset({client_key}))
    return recompute(clickhouse, Touched(company_id, keys, versions), excluded)


def _row(row: Mapping[str, Any], version: int) -> tuple[Any, ...]:
    quarter = datetime.fromtimestamp(int(row["quarter"]), UTC)
    return (
        row["company_id"],
        quarter,
        int(row["employee"]),
        row["device_id"],
        *(int(row[name]) for name in VALUE_COLUMNS),
        version,
    )


def _tombstone(company_id: str, key: tuple[str, int, int], version: int) -> tuple[Any, ...]:
    device_id, quarter, employee = key
    zeros = dict.fromkeys(VALUE_COLUMNS, 0)
    zeros["first_activity"] = NO_ACTIVITY
    return _row(
        {
            "company_id": company_id,
            "quarter": quarter,
            "employee": employee,
            "device_id": device_id,
            **zeros,
        },
        version,
    )


def serves(zone: ZoneInfo, start: datetime, end: datetime) -> bool:
    """Whether quarters can answer a range in `zone`: its ends fall on quarters and the zone's
    offset is a whole number of quarters throughout."""
    start_ts, end_ts = int(start.timestamp()), int(end.timestamp())
    return not (start_ts % QUARTER_S or end_ts % QUARTER_S) and _offsets_fit(
        zone.key, start_ts, end_ts
    )


@lru_cache(maxsize=1024)
def _offsets_fit(zone_key: str, start_ts: int, end_ts: int) -> bool:
    """Every offset of the zone in the range is whole quarters: sampled once a day, and hourly
    within a day where the offset changes (zones change offsets on whole hours, and no offset
    lasts less than a day). A report asks for the same range several times (summary, working
    time, team totals): cached."""
    zone = ZoneInfo(zone_key)

    def offset(ts: int) -> timedelta | None:
        return datetime.fromtimestamp(ts, zone).utcoffset()

    def fits(ts: int) -> bool:
        found = offset(ts)
        return found is not None and int(found.total_seconds()) % QUARTER_S == 0

    day = 86_400
    for ts in range(start_ts, end_ts + 1, day):
        following = min(ts + day, end_ts)
        hours = range(ts, following + 1, 3600) if offset(following) != offset(ts) else (ts,)
        if not all(fits(hour) for hour in hours):
            return False
    return fits(end_ts)
