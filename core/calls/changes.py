"""The calls' change feed (API.md "Change feeds"): the rows of `call_changes` (migration 0017)
in the order the server stored them, after a cursor, read through the table's primary key.

Positions are (changed_at, call id, version). `changed_at` is the server's clock when the row was
inserted, so a row inserted now can carry a second a reader has already passed while the insert
was running: a page only reads up to a settled horizon, `settle_s` seconds before the server's
now, which an insert must finish within (a worker's batch and an erasure's tombstones take
milliseconds: core/privacy/mutations.py finds the erased calls first, then inserts).

A page is read in windows of the time after the cursor, from an hour, doubled while a window
holds fewer rows than the page and ends before the horizon, an empty window skipped: ClickHouse
18.16 reads the whole of a range before sorting it (later versions read the key's order), so a
page costs about as many rows as it shows wherever it is in a company's history."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.clickhouse import ClickHouse, render
from core.company_clickhouse import COMPANY_FILTER, NOT_ERASED_CONTACT, CompanyClickHouse
from core.paging import Page

FIRST_WINDOW_S = 3600
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
    within that second (`call_id` empty: nothing of that second read yet)."""

    changed_ts: int
    call_id: str = ""
    version: int = 0

    def key(self) -> str:
        return f"{self.call_id}/{self.version}" if self.call_id else ""

    @classmethod
    def of(cls, sort_key: tuple[int, str]) -> Position:
        """The position a cursor's sort key holds (core/paging.py checked its shape)."""
        changed_ts, key = sort_key
        call_id, _, version = key.partition("/")
        if key and not (call_id and version.isdigit() and len(version) <= 20):
            raise ValueError("not a change position")
        return cls(changed_ts, call_id, int(version) if call_id else 0)


@dataclass(frozen=True, slots=True)
class ChangePage:
    rows: list[dict[str, Any]]
    after: Position  # where the next page starts: after the last row, or the horizon


def settled_horizon(clickhouse: ClickHouse, settle_s: int) -> int:
    """The last second whose rows are all visible: `settle_s` before the server's now."""
    now = clickhouse.query("SELECT toUnixTimestamp(now()) AS now_ts")[0]["now_ts"]
    return int(now) - settle_s


def change_page(ch: CompanyClickHouse, page: Page, start: Position, horizon_ts: int) -> ChangePage:
    """The next `page.limit` rows after `start` up to `horizon_ts` (`settled_horizon`); with
    fewer, the page ends at the horizon (the next one starts there: nothing before it can still
    come)."""
    from_ts, window = start.changed_ts, FIRST_WINDOW_S
    while True:
        to_ts = min(from_ts + window, horizon_ts + 1)
        rows = _window(ch, start, from_ts, to_ts, page.limit)
        if len(rows) >= page.limit:
            last = rows[page.limit - 1]
            return ChangePage(
                rows[: page.limit],
                Position(int(last["changed_ts"]), str(last["call_id"]), int(last["version"])),
            )
        if to_ts > horizon_ts:  # every row up to the horizon read: the next page starts there
            return ChangePage(rows, max(start, Position(horizon_ts + 1)))
        if not rows:
            from_ts = to_ts  # nothing there and nothing can come: skip it
        window *= 2


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
    them (the history, by start, would miss it). Read in windows back from `now_ts`, doubled
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
        window *= 2


NOTES_SQL = f"""SELECT device_id, client_call_id, note, version FROM call_notes FINAL
WHERE {COMPANY_FILTER} AND device_id IN %(devices)s AND client_call_id IN %(calls)s"""


def with_notes(ch: CompanyClickHouse, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows, each with the note sent later when that is newer (and its version)."""
    calls = [row for row in rows if not row["deleted"]]
    if not calls:
        return rows
    params = {
        "devices": tuple({row["device_id"] for row in calls}),
        "calls": tuple({row["client_call_id"] for row in calls}),
    }
    notes = {
        (note["device_id"], note["client_call_id"]): note for note in ch.query(NOTES_SQL, params)
    }
    return [_noted(row, notes.get((row["device_id"], row["client_call_id"]))) for row in rows]


def _noted(row: dict[str, Any], note: dict[str, Any] | None) -> dict[str, Any]:
    if note is None or row["deleted"] or int(note["version"]) <= int(row["version"]):
        return row
    return {**row, "note_text": note["note"], "version": int(note["version"])}


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
# finds no call, and the call's own change shows the note (`with_notes`, when the page is read).
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
        params = {
            "company_id": company_id,
            "device_id": device_id,
            "client_call_id": client_call_id,
            "note": note,
            "version": version,
        }
        clickhouse.execute(render(NOTE_CHANGE_SQL, params))
