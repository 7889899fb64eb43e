"""Per-client states of calls (`client_states`, migration 0010): one row per company and client
with the latest times the summary's per-client figures need, kept by the calls worker beside
the per-employee aggregates (core/calls/aggregates.py).

The summary counts, over a range, the clients called, the clients never attended (a missed or
rejected call in range and no connected call in range after the first of them) and the clients
not picked up (the same for unanswered outgoing calls), METRICS.md. For a range [from, to)
that ends after the client's latest call, with L its latest connected call:

- called in range: `last_call >= from`;
- never attended: `last_missed >= from AND last_missed > L AND missed_before < from`, where
  `missed_before` is its latest missed call at or before L: the first missed call since
  `from` comes after L exactly when one exists after L and none lies in [from, L] (when
  L < from, `missed_before <= L < from` holds by itself);
- not picked up: the same with unanswered outgoing calls.

So a whole-company summary over a range ending after the company's latest call reads one row
per client instead of every call of the range (`figures`). Exact by construction: a state is
recomputed from `client_calls FINAL` for the clients a batch touched (`recompute`), never
added to; its `version` is the sum of the versions of the client's calls, which grows with
every call stored or corrected, so a state computed from more of them replaces one computed
from fewer, whichever worker writes last (a sum of millisecond versions stays below 2^64 up to
millions of calls of one client).

Deletions do not keep that order, so they are handled where they happen (core/privacy): an
erased number's state is deleted with its calls; retention deletes calls before a cutoff,
which leaves every state exact for ranges starting at or after it (each test above compares a
time with `from`, and only times before the cutoff went), so the company's
`client_states_from` moves up to it; a withdrawn device's calls leave the states of its
clients wrong, so the company's states are unusable (`client_states_from` null) until the
worker's client-state round has rebuilt them all (`rebuild`).

Beside them, per employee and client (`employee_clients`, migration 0011): the latest call of
each type the employee had with the client. Over a range ending after the company's latest
call, an employee's unique clients of the selected types are the rows whose latest call of
one of those types is at or after `from` (`employee_figures`). Every row of a client is
written together with the client's version, including a row with no call (all zero) for an
employee who had calls with the client before and has none now (a re-sent call takes the
employee its phone is enrolled for), so a recompute replaces each of the client's rows. The
same lifecycle as the per-client states (`TABLES`).

And per employee and client in the company's zone (`client_hours`, migration 0013): the latest
call at each local hour of the day and on each local weekday, so the analytics by hour of day
and by weekday count an hour's clients as the rows whose latest call at that hour is at or
after `from` (`hour_figures`). Written with the other states in the zone the worker knows the
company by (`recompute`, `rebuild`); a company that moves to another zone has them rebuilt in it
with its days (core/calls/aggregates.py `rebuild_days`), and reads use them only in the zone its
days are complete in (`companies.rollup_zone`).

Both per-employee tables hold, beside each client's employees, a row for the whole company
(employee `COMPANY_ROW`, migration 0018 of the control plane had them rebuilt): each column's
latest over the employees, so the whole company's figures per type, hour of day and weekday
count one row per client instead of grouping every employee's row by client."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from core.clickhouse import ClickHouse, Param, greatest, quote
from core.company_clickhouse import (
    COMPANY_FILTER,
    EMPLOYEE_KEYS,
    NOT_ERASED_CLIENT,
    CompanyClickHouse,
)
from schemas.payloads import CallType

STATE_COLUMNS = (
    "company_id",
    "client",
    "last_call",
    "last_connected",
    "last_missed",
    "missed_before",
    "last_tried",
    "tried_before",
    "version",
)
TYPES = tuple(t.value for t in CallType)
PAIR_COLUMNS = (
    "company_id",
    "client",
    "employee",
    "last_call",
    *(f"last_{t}" for t in TYPES),
    "version",
)
HOURS = tuple(range(24))
WEEKDAYS = tuple(range(1, 8))  # ClickHouse's toDayOfWeek: Monday 1 .. Sunday 7
HOUR_COLUMNS = (
    "company_id",
    "zone",
    "client",
    "employee",
    "last_call",
    *(f"hour_{h}" for h in HOURS),
    *(f"weekday_{d}" for d in WEEKDAYS),
    "version",
)
# the `employee` of a client's row for the whole company in `employee_clients` and
# `client_hours` (an employee's is cityHash64 of its id, never 0)
COMPANY_ROW = 0
# the tables kept, rebuilt, deleted and made unusable together
TABLES = ("client_states", "employee_clients", "client_hours")
# `companies.client_states_from` of a company whose states answer any range (no calls yet, or
# all rebuilt)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# clients per recompute query (a client is ~40 bytes of SQL)
CLIENTS_PER_QUERY = 2000


def _before_connected(kind: str) -> str:
    """The latest call of `kind` at or before the latest connected call (0: none)."""
    return (
        f"arrayReduce('max', arrayFilter(t -> t <= last_connected, "
        f"groupArrayIf(toUnixTimestamp(started_at), {kind} = 1)))"
    )


STATE_SQL = f"""SELECT company_id, client,
    toUnixTimestamp(max(started_at)) AS last_call,
    maxIf(toUnixTimestamp(started_at), connected = 1) AS last_connected,
    maxIf(toUnixTimestamp(started_at), missed = 1) AS last_missed,
    {_before_connected("missed")} AS missed_before,
    maxIf(toUnixTimestamp(started_at), tried = 1) AS last_tried,
    {_before_connected("tried")} AS tried_before,
    sum(version) AS version
FROM client_calls FINAL
WHERE {{selection}}
GROUP BY company_id, client"""


def _rows_per_employee(
    table: str,
    latest: Sequence[tuple[str, str]],
    of_call: Sequence[tuple[str, str, str]],
    zoned: bool = False,
) -> str:
    """The rows of `table` of a client's employees (selected by `{selection}`): per employee,
    its latest call (`last_call`) and each `latest` column (name, the `maxIf` condition on
    the call's `of_call` columns: name, expression, its value in a zero row); an employee
    with a row already and no call left gets a zero row; every row with the client's version
    (the sum over its employees). Grouped by employee, then by client (`groupArray` of tuples,
    `ARRAY JOIN`): a filter over the client's calls per column cost a pass per column. Beside
    them the company's row (employee `COMPANY_ROW`): each column's latest over the employees.
    A `zoned` table (a `zone` column) is written and read in `{zone}`."""
    names = ["last_call", *(name for name, _term in latest)]
    maxima = ", ".join(f"maxIf(started, {term}) AS {name}" for name, term in latest)
    company_row = ", ".join([f"toUInt64({COMPANY_ROW})", *(f"max({name})" for name in names)])
    in_zone = " AND zone = {zone}" if zoned else ""
    from_call = "".join(f"{expression} AS {name}, " for name, expression, _zero in of_call)
    zeros = "".join(f"{zero}, " for _name, _expression, zero in of_call)
    picked = ", ".join(f"row.{n + 2} AS {name}" for n, name in enumerate(names))
    return f"""SELECT company_id, {"{zone} AS zone, " if zoned else ""}client,
    row.1 AS employee, {picked}, version
FROM (
    SELECT company_id, client, sum(employee_version) AS version,
        arrayPushBack(groupArray((employee, {", ".join(names)})), ({company_row})) AS rows
    FROM (
        SELECT company_id, client, employee, sum(version) AS employee_version,
            max(started) AS last_call, {maxima}
        FROM (
            SELECT company_id, client, employee, toUnixTimestamp(started_at) AS started,
                {from_call}version
            FROM client_calls FINAL WHERE {{selection}}
            UNION ALL
            SELECT company_id, client, employee, toUInt32(0), {zeros}toUInt64(0)
            FROM {table} WHERE {{selection}} AND employee != {COMPANY_ROW}{in_zone}
        )
        GROUP BY company_id, client, employee
    )
    GROUP BY company_id, client
) ARRAY JOIN rows AS row
WHERE version > 0"""


# per employee and client: the latest call of each type
PAIR_SQL = _rows_per_employee(
    "employee_clients",
    [(f"last_{t}", f"kind = '{t}'") for t in TYPES],
    [("kind", "toString(type)", "''")],
)
# per employee and client in `{zone}`: the latest call at each local hour and weekday
HOURS_SQL = _rows_per_employee(
    "client_hours",
    [(f"hour_{h}", f"hour = {h}") for h in HOURS]
    + [(f"weekday_{d}", f"weekday = {d}") for d in WEEKDAYS],
    [
        ("hour", "toHour(started_at, {zone})", "toUInt8(255)"),
        ("weekday", "toDayOfWeek(toDate(started_at, {zone}))", "toUInt8(255)"),
    ],
    zoned=True,
)


def _chunks(clients: Iterable[str]) -> Iterator[tuple[str, ...]]:
    ordered = sorted(set(clients))
    for at in range(0, len(ordered), CLIENTS_PER_QUERY):
        yield tuple(ordered[at : at + CLIENTS_PER_QUERY])


_WRITES = {
    "client_states": (STATE_COLUMNS, STATE_SQL),
    "employee_clients": (PAIR_COLUMNS, PAIR_SQL),
    "client_hours": (HOUR_COLUMNS, HOURS_SQL),
}


def _write(
    clickhouse: ClickHouse, selection: str, zone: str, tables: Iterable[str] = TABLES
) -> None:
    """The states of the `client_calls` rows where `selection` holds (those per hour in
    `zone`), computed and written by the server in one statement per table (no row passes
    through Python)."""
    for table in tables:
        columns, sql = _WRITES[table]
        clickhouse.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) "
            + sql.format(selection=selection, zone=quote(zone))
        )


def recompute(clickhouse: ClickHouse, company_id: str, clients: Iterable[str], zone: str) -> int:
    """Write the current states of `clients` (UUIDs) of the company from `client_calls FINAL`,
    those per hour in `zone` (the company's); the clients recomputed. Idempotent. A client
    without calls left gets no row (its calls and state go together: erasures)."""
    recomputed = 0
    for chunk in _chunks(clients):
        selection = f"company_id = {quote(company_id)} AND client IN {quote(chunk)}"
        _write(clickhouse, selection, zone)
        recomputed += len(chunk)
    return recomputed


def rebuild(
    clickhouse: ClickHouse,
    company_id: str,
    zone: str,
    tables: Iterable[str] = TABLES,
    without: Iterable[str] = (),
) -> int:
    """Every state of the company in `tables` from its calls (those per hour in `zone`), not
    of the clients `without` (UUIDs: erasures pending); the clients the company has. The
    caller deletes the rows of before first where calls were deleted since (those would
    outrank the new ones) and makes sure nothing reads them meanwhile; in a new zone, nothing
    is deleted first (its rows are new)."""
    company = f"company_id = {quote(company_id)}"
    left_out = tuple(sorted(without))
    selection = f"{company} AND client NOT IN {quote(left_out)}" if left_out else company
    _write(clickhouse, selection, zone, tables)
    found = clickhouse.query(f"SELECT count() AS n FROM client_states WHERE {company}")
    return int(found[0]["n"])


# The summary's per-client figures from the states of a company for a range from `%(start_ts)s`
# that ends after every call (`newest` says whether it does), pending erasures' clients left out.
FIGURES_SQL = f"""SELECT
        sum(last_call >= %(start_ts)s) AS unique_clients,
        sum(last_missed >= %(start_ts)s AND last_missed > last_connected
            AND missed_before < %(start_ts)s) AS never_attended,
        sum(last_tried >= %(start_ts)s AND last_tried > last_connected
            AND tried_before < %(start_ts)s) AS not_picked_up,
        max(last_call) AS newest
    FROM client_states FINAL
    WHERE {COMPANY_FILTER} AND {NOT_ERASED_CLIENT}"""


def _usable(ch: CompanyClickHouse, start_ts: int) -> bool:
    """Not where the states were not rebuilt since calls were deleted, for a range starting
    before what retention kept, or with a pending erasure of a device (its calls still count
    in them)."""
    return not (
        ch.client_states_from is None or start_ts < ch.client_states_from or ch.hidden.devices
    )


def figures(ch: CompanyClickHouse, start_ts: int, end_ts: int) -> dict[str, Any] | None:
    """The summary's per-client figures of the whole company over [start_ts, end_ts) from its
    states, or None where they cannot answer (`_usable`, or a call at or after `end_ts`)."""
    if not _usable(ch, start_ts):
        return None
    row = ch.query(FIGURES_SQL, {"start_ts": start_ts})[0]
    newest = int(row.pop("newest"))
    return row if newest < end_ts else None


def employee_figures(
    ch: CompanyClickHouse,
    start_ts: int,
    end_ts: int,
    types: tuple[str, ...] = (),
    employee_ids: tuple[str, ...] = (),
) -> dict[int, int] | None:
    """Unique clients per employee (`employee`, the number) over [start_ts, end_ts) with a
    call of `types` (all: none given), of the employees `employee_ids` (all: none given);
    None where the states cannot answer (`_usable`, or a call at or after `end_ts`)."""
    if not _usable(ch, start_ts):
        return None
    latest = greatest([f"last_{kind}" for kind in types]) if types else "last_call"
    rows = ch.query(
        f"""SELECT employee, sum({latest} >= %(start_ts)s) AS unique_clients,
            max(last_call) AS newest
        FROM employee_clients FINAL
        WHERE {COMPANY_FILTER} AND {NOT_ERASED_CLIENT}
            AND {EMPLOYEE_KEYS if employee_ids else f"employee != {COMPANY_ROW}"}
        GROUP BY employee""",
        {"start_ts": start_ts, **({"employee_ids": employee_ids} if employee_ids else {})},
    )
    if any(int(row["newest"]) >= end_ts for row in rows):
        return None
    return {int(row["employee"]): int(row["unique_clients"]) for row in rows}


def _clients_per_column(
    ch: CompanyClickHouse,
    table: str,
    columns: list[str],
    start_ts: int,
    end_ts: int,
    employee_ids: tuple[str, ...],
    where: str = "1",
    params: dict[str, str] | None = None,
) -> dict[str, int] | None:
    """Per column of `table`'s rows (per employee and client) of the employees `employee_ids`
    (all: none given): the clients with one row where the column is at or after `start_ts`.
    For some employees, grouped by client first (one hash table instead of a distinct set per
    column, 0.55 of the time over 440k rows); for all, the company's rows (`COMPANY_ROW`), one
    per client. None where a call is at or after `end_ts`."""
    counted = f"{', '.join(f'sum({c} >= %(start_ts)s) AS {c}' for c in columns)}"
    rows = f"{table} FINAL WHERE {COMPANY_FILTER} AND {where} AND {NOT_ERASED_CLIENT}"
    bound: dict[str, Param] = {"start_ts": start_ts, **(params or {})}
    if employee_ids:
        latest = ", ".join(f"max({c}) AS {c}" for c in columns)
        sql = f"""SELECT {counted}, max(newest) AS newest
            FROM (
                SELECT client, {latest}, max(last_call) AS newest
                FROM {rows} AND {EMPLOYEE_KEYS}
                GROUP BY client
            )"""
        bound["employee_ids"] = employee_ids
    else:
        sql = f"""SELECT {counted}, max(last_call) AS newest
            FROM {rows} AND employee = {COMPANY_ROW}"""
    row = ch.query(sql, bound)[0]
    if int(row["newest"] or 0) >= end_ts:
        return None
    return {c: int(row[c] or 0) for c in columns}


def type_figures(
    ch: CompanyClickHouse,
    start_ts: int,
    end_ts: int,
    types: tuple[str, ...] = (),
    employee_ids: tuple[str, ...] = (),
) -> dict[str, int] | None:
    """Unique clients per call type over [start_ts, end_ts) of the employees `employee_ids`
    (all: none given), the types outside `types` (all: none given) at zero: a client counts
    for a type when one of those employees' latest call of it is at or after `start_ts`.
    None where the states cannot answer (`_usable`, or a call at or after `end_ts`)."""
    if not _usable(ch, start_ts):
        return None
    counted = [t for t in TYPES if not types or t in types]
    found = _clients_per_column(
        ch, "employee_clients", [f"last_{t}" for t in counted], start_ts, end_ts, employee_ids
    )
    if found is None:
        return None
    return {t: found.get(f"last_{t}", 0) for t in TYPES}


def hour_figures(
    ch: CompanyClickHouse,
    start_ts: int,
    end_ts: int,
    zone: str,
    by: str,
    employee_ids: tuple[str, ...] = (),
) -> dict[int, int] | None:
    """Unique clients per local hour of the day (`by` "hour_of_day": 0..23) or weekday
    ("weekday": 1..7) in `zone` over [start_ts, end_ts) of the employees `employee_ids` (all:
    none given); None where the rows cannot answer (`_usable`, a zone the company's days are
    not complete in, or a call at or after `end_ts`)."""
    if not _usable(ch, start_ts) or ch.day_zone != zone:
        return None
    keys = HOURS if by == "hour_of_day" else WEEKDAYS
    prefix = "hour" if by == "hour_of_day" else "weekday"
    found = _clients_per_column(
        ch,
        "client_hours",
        [f"{prefix}_{key}" for key in keys],
        start_ts,
        end_ts,
        employee_ids,
        "zone = %(zone)s",
        {"zone": zone},
    )
    if found is None:
        return None
    return {key: found[f"{prefix}_{key}"] for key in keys}


def states_from(at: datetime | None) -> int | None:
    """`companies.client_states_from` as CompanyClickHouse holds it."""
    return None if at is None else int(at.timestamp())
