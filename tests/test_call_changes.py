"""The calls' change feed below the API (core/calls/changes.py) on both ClickHouse backends and a
two-shard cluster: every stored version in the order the server stored it, a note sent later as
a change, an erasure as tombstones with no number left in the feed, and a reader paging in
small steps ending with exactly what a reader of everything at once gets."""

from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from core.calls.changes import (
    Position,
    change_page,
    notes_before_calls,
    record_notes,
)
from core.clickhouse import ClickHouse
from core.company_clickhouse import CompanyClickHouse
from core.number_crypto import CompanyKeys, blind_index, encrypt_number
from core.paging import Page
from core.privacy.mutations import devices_plan, number_plan, run
from streams.calls.rows import CALL_COLUMNS

KEYS = CompanyKeys("feed-test", os.urandom(32), os.urandom(32))
STARTED = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def call(
    company_id: str, device: str, n: int, number: str, version: int, duration: int
) -> tuple[Any, ...]:
    return (
        company_id, device, f"c{n}", f"{company_id[:8]}-{device}-{n:04d}", "e1",
        blind_index(KEYS, number), encrypt_number(KEYS, number), number[:6] + "****", "",
        "outgoing", STARTED, duration, 0, "", STARTED, version,
    )  # fmt: skip


def server_now(store: ClickHouse) -> int:
    return int(store.query("SELECT toUnixTimestamp(now()) AS now_ts")[0]["now_ts"])


def horizon(store: ClickHouse) -> int:
    """The server's second now, once nothing more can be stored in it (the next insert is
    stamped later): a reader's settled horizon after the writes so far."""
    now = server_now(store)
    while server_now(store) == now:
        time.sleep(0.05)
    return now


START = Position(0)


def read_all(
    ch: CompanyClickHouse, limit: int, start: Position = START
) -> tuple[list[dict[str, Any]], Position]:
    """Pages of `limit` from `start` up to the horizon of what was stored."""
    rows: list[dict[str, Any]] = []
    position, horizon_ts = start, horizon(ch.clickhouse)
    while True:
        page = change_page(ch, Page(limit), position, horizon_ts)
        rows += page.rows
        assert page.after >= position  # a cursor never goes back
        if page.after == position or not page.rows:
            return rows, page.after
        position = page.after


def latest(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """What a sync client holds: each call at its highest version, erased ones gone."""
    held: dict[str, dict[str, Any]] = {}
    for row in rows:
        known = held.get(row["call_id"])
        if known is None or row["version"] > known["version"]:
            held[row["call_id"]] = row
    return {call_id: row for call_id, row in held.items() if not row["deleted"]}


def test_feed_holds_each_version_notes_and_tombstones(clickhouse_store: ClickHouse) -> None:
    company_id = str(uuid.uuid4())
    ch = CompanyClickHouse(clickhouse_store, company_id)
    erased, kept = "+919876500001", "+919876500002"
    clickhouse_store.insert(
        "calls",
        CALL_COLUMNS,
        [call(company_id, "d1", n, erased if n < 3 else kept, 10, 30) for n in range(5)],
    )
    first, position = read_all(ch, 2)
    assert [row["version"] for row in first] == [10] * 5
    assert len({row["call_id"] for row in first}) == 5

    # the phone sends call 3 again, longer; a note for call 4 is written later
    clickhouse_store.insert("calls", CALL_COLUMNS, [call(company_id, "d1", 3, kept, 20, 95)])
    clickhouse_store.insert(
        "call_notes",
        ("company_id", "device_id", "client_call_id", "note", "version"),
        [(company_id, "d1", "c4", "call back friday", 30)],
    )
    record_notes(clickhouse_store, [(company_id, "d1", "c4", "call back friday", 30)])
    record_notes(clickhouse_store, [(company_id, "d1", "c3", "older than the call", 15)])
    second, position = read_all(ch, 2, position)
    assert sorted((row["client_call_id"], row["version"]) for row in second) == [
        ("c3", 20),
        ("c4", 30),
    ]
    assert {row["client_call_id"]: (row["duration_s"], row["note_text"]) for row in second} == {
        "c3": (95, ""),
        "c4": (30, "call back friday"),
    }

    run(clickhouse_store, number_plan(company_id, blind_index(KEYS, erased)), sleep=lambda _s: None)
    third, _position = read_all(ch, 2, position)
    erased_ids = {row["call_id"] for row in first if row["client_call_id"] in ("c0", "c1", "c2")}
    assert {row["call_id"] for row in third} == erased_ids
    assert all(row["deleted"] and not row["number_enc"] and not row["client_key"] for row in third)

    everything, _end = read_all(ch, 1000)
    assert sorted(row["client_call_id"] for row in latest(first + second + third).values()) == [
        "c3",
        "c4",
    ]
    assert latest(everything).keys() == latest(first + second + third).keys()
    assert blind_index(KEYS, erased) not in {row["client_key"] for row in everything}


def test_a_note_stored_before_its_call_shows_with_the_call(clickhouse_store: ClickHouse) -> None:
    """Notes and calls come from two topics: a note can be stored first, when there is no call
    to make a change of; once the call is stored, the note's change follows it. A worker's
    batch of 12,000 calls is asked about in several queries (one went over a server's
    256 KiB max_query_size)."""
    company_id = str(uuid.uuid4())
    ch = CompanyClickHouse(clickhouse_store, company_id)
    note = (company_id, "d1", "c7", "met in person", 50)
    clickhouse_store.insert(
        "call_notes", ("company_id", "device_id", "client_call_id", "note", "version"), [note]
    )
    record_notes(clickhouse_store, [note])
    clickhouse_store.insert(
        "calls", CALL_COLUMNS, [call(company_id, "d1", 7, "+919876500011", 10, 30)]
    )
    batch = [(company_id, "d1", f"{n:05d}-{'x' * 24}") for n in range(12_000)]
    notes_before_calls(
        clickhouse_store, [*batch, (company_id, "d1", "c7"), (company_id, "d1", "c8")]
    )
    rows, _end = read_all(ch, 10)
    assert [(row["note_text"], row["version"]) for row in rows] == [("", 10), ("met in person", 50)]


def test_an_employees_withdrawn_devices_leave_tombstones(clickhouse_store: ClickHouse) -> None:
    company_id = str(uuid.uuid4())
    ch = CompanyClickHouse(clickhouse_store, company_id)
    clickhouse_store.insert(
        "calls",
        CALL_COLUMNS,
        [
            call(company_id, device, n, f"+91987650{n:04d}", 10, 30)
            for device in ("d1", "d2")
            for n in range(3)
        ],
    )
    run(clickhouse_store, devices_plan(company_id, ["d2"]), sleep=lambda _s: None)
    rows, _end = read_all(ch, 4)
    assert sorted(row["device_id"] for row in latest(rows).values()) == ["d1"] * 3
    assert sum(row["deleted"] for row in rows) == 3


def test_a_page_waits_for_the_settled_horizon(chdb_store: ClickHouse) -> None:
    """What was stored within the last `settle_s` seconds is not read yet, and the next page
    starts at the horizon, not after rows it did not see."""
    company_id = str(uuid.uuid4())
    ch = CompanyClickHouse(chdb_store, company_id)
    chdb_store.insert("calls", CALL_COLUMNS, [call(company_id, "d1", 1, "+919876500009", 10, 30)])
    stored = horizon(chdb_store)  # the second the call was stored in
    page = change_page(ch, Page(10), Position(0), stored - 1)
    assert page.rows == []
    assert page.after == Position(stored)
    later = change_page(ch, Page(10), page.after, stored)
    assert [row["client_call_id"] for row in later.rows] == ["c1"]


_PAGED: dict[str, tuple[CompanyClickHouse, list[dict[str, Any]], int]] = {}


def paged_company(store: ClickHouse) -> tuple[CompanyClickHouse, list[dict[str, Any]], int]:
    """One company of 18 changes in one second (ties broken by call id, then version: five
    calls twice), stored once for every example: its reader, everything in order, the horizon
    after it."""
    if "company" not in _PAGED:
        ch = CompanyClickHouse(store, str(uuid.uuid4()))
        rows = [call(ch.company_id, "d1", n, "+919876500010", 10 + n % 3, 30) for n in range(13)]
        resent = [call(ch.company_id, "d1", n, "+919876500010", 50, 40) for n in range(0, 13, 3)]
        store.insert("calls", CALL_COLUMNS, rows + resent)
        expected, end = read_all(ch, 1000)
        _PAGED["company"] = (ch, expected, end.changed_ts - 1)
    return _PAGED["company"]


@settings(max_examples=20, deadline=None)
@given(limits=st.lists(st.integers(1, 7), min_size=1, max_size=12))
def test_any_page_sizes_read_the_same_rows(chdb_store: ClickHouse, limits: list[int]) -> None:
    ch, expected, horizon_ts = paged_company(chdb_store)
    assert len(expected) == 18
    position, seen = Position(0), []
    for limit in limits * 20:
        page = change_page(ch, Page(limit), position, horizon_ts)
        seen += page.rows
        if not page.rows and page.after == position:
            break  # at the horizon: it stays there
        position = page.after
    assert seen == expected
