"""The calls' change feed (API.md "Change feeds"): the rows of `call_changes` (migration 0017)
in the order the server stored them, after a cursor, read through the table's primary key.

Positions are (changed_at, call id, version). `changed_at` is the server's clock when the row was
inserted, so a row inserted now can carry a second a reader has already passed while the insert
was running: a page only reads up to a settled horizon, `settle_s` seconds before the server's
now, which an insert must finish within (a worker's batch and an erasure's tombstones take
milliseconds: core/privacy/mutations.py finds the erased calls first, then inserts).

A page is read in windows of the time after the cursor, from an hour, grown 8x while a window
holds fewer rows than the page and ends before the horizon, an empty window skipped: ClickHouse
18.16 reads the whole of a range before sorting it (later versions read the key's order), so a
page costs about as many rows as it shows wherever it is in a company's history."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from core.clickhouse import IN_LIST_LIMIT, ClickHouse, Param, render
from core.company_clickhouse import COMPANY_FILTER, NOT_ERASED_CONTACT, CompanyClickHouse
from core.paging import Page

FIRST_WINDOW_S = 3600
MIN_WINDOW_S, MAX_WINDOW_S = 60, 2**32
GROWTH = 8  # fewer queries (each costs ~15 ms on chDB) for at most 8x the rows read
COLUMNS = """call_id, version, deleted, employee_id, device_id, client_call_id, client_key,
    number_masked, number_enc, name, type, toUnixTimestamp(started_at) AS started_ts,
    duration_s, sim_slot, note AS note_text, toUnixTimestamp(synced_at) AS synced_ts,
    toUnixTimestamp(changed_at) AS changed_ts"""
CHANGES_SQL = f"""SELECT {COLUMNS}
FROM call_changes
WHERE {COMPANY_FILTER}
    AND changed_at >= toDateTime(%(from_ts)s) AND changed_at < toDateTime(%(to_ts)s)
    AND (changed_at > toDateTime(%(after_ts)s) OR call_id > %(after_id)s
        OR (call_id = %(after_id)s AND version > %(after_version)s))
    AND (deleted = 1 OR {NOT_ERASED_CONTACT})
ORDER BY changed_at, call_id, version
LIMIT %(limit)s"""
# the latest change of each call, newest stored first (Zapier's polling trigger); calls stored
# in the same second (one upload) newest made first
NEWEST_SQL = f"""SELECT {COLUMNS}
FROM call_changes
WHERE {COMPANY_FILTER}
    AND changed_at >= toDateTime(%(from_ts)s) AND changed_at <= toDateTime(%(to_ts)s)
    AND deleted = 0 AND {NOT_ERASED_CONTACT}{{extra}}
ORDER BY changed_at DESC, started_at DESC, call_id DESC, version DESC
LIMIT 1 BY call_id
LIMIT %(limit)s"""


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """Where a reader is: after every row before `changed_ts`, and after (`call_id`, `version`)
    within that second (`call_id` empty: nothing of that second read yet). `window_s`: the
    window the next page is read in first (a page's span, carried by the cursor)."""

    changed_ts: int
    call_id: str = ""
    version: int = 0
    window_s: int = field(default=FIRST_WINDOW_S, compare=False)

    def key(self) -> str:
        return f"{self.call_id}/{self.version}/{self.window_s}" if self.call_id else ""

    @classmethod
    def of(cls, sort_key: tuple[int, str]) -> Position:
        """The position a cursor's sort key holds (core/paging.py checked its shape)."""
        changed_ts, key = sort_key
        if not key:
            return cls(changed_ts)
        match key.split("/"):
            case [call_id, version, window] if call_id and _number(version) and _number(window):
                window_s = min(max(int(window), MIN_WINDOW_S), MAX_WINDOW_S)
                return cls(changed_ts, call_id, int(version), window_s)
            case _:
                raise ValueError("not a change position")


def _number(text: str) -> bool:
    return text.isdigit() and len(text) <= 20


@dataclass(frozen=True, slots=True)
class ChangePage:
    rows: list[dict[str, Any]]
    after: Position  # where the next page starts: after the last row, or the horizon


def settled_horizon(clickhouse: ClickHouse, settle_s: int) -> int:
    """The last second whose rows are all visible: `settle_s` before the server's now (the
    server's clock read once a minute; between, this process's clock and the difference, one
    second less: the two seconds may tick apart)."""
    measured = _clock_offsets.get(id(clickhouse))
    if measured is None or time.monotonic() - measured[0] > CLOCK_CHECK_S:
        server = clickhouse.query("SELECT toUnixTimestamp(now()) AS now_ts")[0]["now_ts"]
        measured = (time.monotonic(), int(server) - int(time.time()) - 1)
        _clock_offsets[id(clickhouse)] = measured
    return int(time.time()) + measured[1] - settle_s


CLOCK_CHECK_S = 60.0
_clock_offsets: dict[int, tuple[float, int]] = {}  # a store's id -> (when read, server - local)


def change_page(ch: CompanyClickHouse, page: Page, start: Position, horizon_ts: int) -> ChangePage:
    """The next `page.limit` rows after `start` up to `horizon_ts` (`settled_horizon`); with
    fewer, the page ends at the horizon (the next one starts there: nothing before it can still
    come)."""
    from_ts, window = start.changed_ts, start.window_s
    while True:
        to_ts = min(from_ts + window, horizon_ts + 1)
        rows = _window(ch, start, from_ts, to_ts, page.limit)
        if len(rows) >= page.limit:
            last = rows[page.limit - 1]
            last_ts = int(last["changed_ts"])
            # the next page's first window: this page's span and a quarter (as dense: one
            # query of a quarter more rows than the page; sparser: a second, 8x as long)
            hint = min(max((last_ts - from_ts) * 5 // 4 + 1, MIN_WINDOW_S), window)
            return ChangePage(
                rows[: page.limit],
                Position(last_ts, str(last["call_id"]), int(last["version"]), hint),
            )
        if to_ts > horizon_ts:  # every row up to the horizon read: the next page starts there
            return ChangePage(rows, max(start, Position(horizon_ts + 1)))
        if not rows:
            from_ts = to_ts  # nothing there and nothing can come: skip it
        window *= GROWTH


def newest_calls(
    ch: CompanyClickHouse,
    limit: int,
    now_ts: int,
    oldest_ts: int,
    types: tuple[str, ...] = (),
    employee_ids: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """The `limit` calls stored or changed last (of `types`, of `employee_ids`; empty: all),
    each at its latest change, newest first: a call uploaded days after it was made is among
    them (the history, by start, would miss it). Read in windows back from `now_ts`, grown
    while short, down to `oldest_ts`."""
    only = {column: values for column, values in (("type", types), ("employee_id", employee_ids))}
    only = {column: values for column, values in only.items() if values}
    sql = NEWEST_SQL.format(extra="".join(f" AND {column} IN %({column})s" for column in only))
    window = FIRST_WINDOW_S
    while True:
        from_ts = max(now_ts - window, oldest_ts)
        rows = ch.query(sql, {"from_ts": from_ts, "to_ts": now_ts, "limit": limit, **only})
        if len(rows) >= limit or from_ts <= oldest_ts:
            return rows
        window *= GROWTH


def _window(
    ch: CompanyClickHouse, start: Position, from_ts: int, to_ts: int, limit: int
) -> list[dict[str, Any]]:
    return ch.query(
        CHANGES_SQL,
        {
            "from_ts": from_ts,
            "to_ts": to_ts,
            "after_ts": start.changed_ts,
            "after_id": start.call_id,
            "after_version": start.version,
            "limit": limit,
        },
    )


# A note sent after its call (PUT /v1/calls/{id}/note) is a change of the call when it is newer
# than the call's own version, as the history shows it (api/calls/history.py). The worker stores
# notes and calls from two topics, so a note can be stored before its call: `record_notes` then
# finds no call, and `notes_before_calls`, run once the call is stored, finds the note. Each runs
# after its own insert, so at least one of them sees the other's row.
NOTE_CHANGE_SQL = """INSERT INTO call_changes (company_id, changed_at, call_id, version, deleted,
    device_id, client_call_id, employee_id, client_key, number_enc, number_masked, name, type,
    started_at, duration_s, sim_slot, note, synced_at)
SELECT company_id, now(), call_id, %(version)s, 0, device_id, client_call_id, employee_id,
    client_key, number_enc, number_masked, name, type, started_at, duration_s, sim_slot,
    %(note)s, synced_at
FROM calls FINAL
WHERE company_id = %(company_id)s AND device_id = %(device_id)s
    AND client_call_id = %(client_call_id)s AND version < %(version)s"""


def record_notes(clickhouse: ClickHouse, notes: Sequence[Sequence[Any]]) -> None:
    """The change of each note stored (`call_notes` rows: company, device, call, note,
    version), after the note itself: a note stored again after a fault appears again."""
    for company_id, device_id, client_call_id, note, version in notes:
        params: dict[str, Param] = {
            "company_id": company_id,
            "device_id": device_id,
            "client_call_id": client_call_id,
            "note": note,
            "version": version,
        }
        clickhouse.execute(render(NOTE_CHANGE_SQL, params))


NOTES_OF_CALLS_SQL = """SELECT device_id, client_call_id, note, version FROM call_notes FINAL
WHERE company_id = %(company_id)s AND device_id IN %(devices)s AND client_call_id IN %(calls)s"""


def notes_before_calls(clickhouse: ClickHouse, calls: Sequence[tuple[str, str, str]]) -> None:
    """For calls just stored (company, device, the phone's call id): the change of each note
    that was stored before its call (`record_notes` found no call then)."""
    by_company: dict[str, set[tuple[str, str]]] = {}
    for company_id, device_id, client_call_id in calls:
        by_company.setdefault(company_id, set()).add((device_id, client_call_id))
    for company_id, keys in by_company.items():
        ordered = sorted(keys)
        for at in range(0, len(ordered), IN_LIST_LIMIT):
            chunk = ordered[at : at + IN_LIST_LIMIT]
            params: dict[str, Param] = {
                "company_id": company_id,
                "devices": tuple(sorted({device for device, _ in chunk})),
                "calls": tuple(sorted({call for _, call in chunk})),
            }
            notes = [
                (company_id, row["device_id"], row["client_call_id"], row["note"], row["version"])
                for row in clickhouse.query(NOTES_OF_CALLS_SQL, params)
                if (row["device_id"], row["client_call_id"]) in keys
            ]
            record_notes(clickhouse, notes)
