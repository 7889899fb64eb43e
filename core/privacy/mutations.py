"""Deleting rows from ClickHouse: `ALTER TABLE ... DELETE` mutations (the same SQL on 18.16 and
chDB), issued in stages and waited for through `system.mutations`. A stage whose condition
reads `calls` (a call's note, an employee's client calls) runs before `calls` loses those rows;
orphaned client lookups go after. Every plan is idempotent: a crash re-runs it from the top."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from core.calls import client_states, day_clients
from core.calls.aggregates import day_start
from core.clickhouse import ClickHouse, quote
from core.clickhouse_shards import mutation_targets
from core.company_clickhouse import as_uuid

log = logging.getLogger(__name__)

# every table holding rows of a company (migrations/clickhouse)
COMPANY_TABLES = (
    "calls",
    "call_changes",
    "call_notes",
    "contacts",
    "device_status",
    "call_employees",
    "call_clients",
    "call_quarters",
    "call_days",
    "call_hours",
    "company_hours",
    "client_calls",
    *client_states.TABLES,
    "day_clients",
    "hour_clients",
    "lead_clients",
)
Stage = list[tuple[str, str]]  # (table, condition) pairs issued together
# The erased calls' tombstones in the change feed (migration 0017, core/calls/changes.py): each
# call's id and a version above every one it had, no number.
ERASED_CALLS_SQL = """SELECT company_id, call_id, max(version) AS version
FROM calls WHERE {condition} GROUP BY company_id, call_id"""
TOMBSTONE_COLUMNS = ("company_id", "changed_at", "call_id", "version", "deleted")


class MutationTimeout(RuntimeError):
    """ClickHouse did not finish the mutations in time; the job stays pending and runs again."""


@dataclass(frozen=True, slots=True)
class Plan:
    stages: list[Stage]
    tombstones: str | None = None  # the calls that leave the change feed with a tombstone

    def tables(self) -> set[str]:
        return {table for stage in self.stages for table, _ in stage}


def _company(company_id: str) -> str:
    return f"company_id = {quote(company_id)}"


def _orphan_clients(company_id: str) -> Stage:
    c = _company(company_id)
    return [("call_clients", f"{c} AND client NOT IN (SELECT client FROM calls WHERE {c})")]


def _notes_of_calls(company_id: str, condition: str) -> Stage:
    """The notes sent for the calls where `condition` holds (before those calls go)."""
    c = _company(company_id)
    calls = f"SELECT device_id, client_call_id FROM calls WHERE {c} AND {condition}"
    return [("call_notes", f"{c} AND (device_id, client_call_id) IN ({calls})")]


def _day_figures(company_id: str) -> Stage:
    """Every unique-clients figure of the company's days and hours (core/calls/day_clients.py),
    once an erasure's calls are gone: the worker's round counts them again."""
    return [(kind.table, _company(company_id)) for kind in day_clients.KINDS]


def number_plan(company_id: str, client_key: str) -> Plan:
    c = _company(company_id)
    client = f"client = toUUID({quote(as_uuid(client_key))})"
    return Plan(
        [
            _notes_of_calls(company_id, client),
            [
                ("calls", f"{c} AND {client}"),
                ("call_changes", f"{c} AND deleted = 0 AND client_key = {quote(client_key)}"),
                ("client_calls", f"{c} AND {client}"),
                *((table, f"{c} AND {client}") for table in client_states.TABLES),
                ("call_clients", f"{c} AND {client}"),
                ("lead_clients", f"{c} AND {client}"),
                ("contacts", f"{c} AND client_key = {quote(client_key)}"),
            ],
            _day_figures(company_id),
        ],
        tombstones=f"{c} AND {client}",
    )


def devices_plan(company_id: str, devices: Sequence[str]) -> Plan:
    c = _company(company_id)
    of_devices = f"{c} AND device_id IN {quote(tuple(devices))}"
    return Plan(
        [
            [
                (
                    "client_calls",
                    f"{c} AND call_key IN (SELECT cityHash64(device_id, client_call_id) "
                    f"FROM calls WHERE {of_devices})",
                )
            ],
            [
                (table, of_devices)
                for table in (
                    "calls",
                    "call_notes",
                    "contacts",
                    "device_status",
                    "call_employees",
                    "call_quarters",
                    "call_days",
                    # not call_hours: their rows are tombstoned instead
                    # (core/calls/aggregates.py `without_devices`: COMPANY_HOURS says why)
                )
            ],
            [("call_changes", f"{of_devices} AND deleted = 0")],
            _orphan_clients(company_id),
            _day_figures(company_id),
        ],
        tombstones=of_devices,
    )


def retention_plan(company_id: str, cutoff_ts: int, zone: str) -> Plan:
    """What started before the cutoff goes; the cutoff is taken down to the start of its local
    day in the company's `zone`, so a day's and a quarter's aggregates
    (core/calls/aggregates.py) go whole, with all of their calls. Days of other zones (a
    rebuild pending) go too, and the states of clients with no call left
    (core/calls/client_states.py: the others stay exact from the cutoff on)."""
    c, start = _company(company_id), day_start(cutoff_ts, zone)
    before = f"< toDateTime({start})"
    other_zone = f"{c} AND (zone != {quote(zone)} OR "
    days = f"{other_zone}day < toDate(toDateTime({start}), {quote(zone)}))"
    return Plan(
        [
            _notes_of_calls(company_id, f"started_at {before}"),
            [
                ("calls", f"{c} AND started_at {before}"),
                # a tombstone goes once the calls it ended are older than the cutoff
                ("call_changes", f"{c} AND if(deleted = 1, changed_at, started_at) {before}"),
                ("call_quarters", f"{c} AND quarter {before}"),
                ("call_days", days),
                ("call_hours", f"{other_zone}hour {before})"),
                ("company_hours", f"{other_zone}hour {before})"),
                ("hour_clients", f"{other_zone}hour {before})"),
                ("day_clients", days),
                ("client_calls", f"{c} AND started_at {before}"),
                *((table, f"{c} AND last_call < {start}") for table in client_states.TABLES),
                ("device_status", f"{c} AND reported_at {before}"),
                ("contacts", f"{c} AND synced_at {before}"),
            ],
            _orphan_clients(company_id),
        ]
    )


def tombstone(clickhouse: ClickHouse, condition: str) -> None:
    """A tombstone for each call where `condition` holds. The calls are found first (a scan of
    the company's calls), then the tombstones stamped with the server's now and inserted at once
    (small rows: milliseconds), as the feed's settled horizon needs (core/calls/changes.py)."""
    erased = clickhouse.query(ERASED_CALLS_SQL.format(condition=condition))
    if not erased:
        return
    now_ts = int(clickhouse.query("SELECT toUnixTimestamp(now()) AS now_ts")[0]["now_ts"])
    at, version_now = datetime.fromtimestamp(now_ts, UTC), now_ts * 1_000_000
    rows = [
        (row["company_id"], at, row["call_id"], max(int(row["version"]) + 1, version_now), 1)
        for row in erased
    ]
    clickhouse.insert("call_changes", TOMBSTONE_COLUMNS, rows)


def delete_any(clickhouse: ClickHouse, table: str, condition: str, timeout_s: float) -> None:
    """The rows of `table` where `condition` holds deleted and waited for; no mutation at all
    when there are none (the worker's rebuild rounds, most of which find nothing to delete)."""
    if clickhouse.query(f"SELECT count() AS n FROM {table} WHERE {condition}")[0]["n"]:
        run(clickhouse, Plan([[(table, condition)]]), timeout_s)


def purge_plan(company_id: str) -> Plan:
    return Plan([[(table, _company(company_id)) for table in COMPANY_TABLES]])


def unfinished(clickhouse: ClickHouse, tables: set[str], issued_by_ts: int) -> int:
    """Mutations of these tables created up to `issued_by_ts` (server clock) not yet done."""
    rows = clickhouse.query(
        """SELECT count() AS n FROM system.mutations
        WHERE database = currentDatabase() AND table IN %(tables)s AND is_done = 0
            AND create_time <= toDateTime(%(ts)s)""",
        {"tables": tuple(sorted(tables)), "ts": issued_by_ts},
    )
    return int(rows[0]["n"])


def issue(clickhouse: ClickHouse, table: str, condition: str) -> None:
    """`ALTER TABLE table DELETE WHERE condition`, on every shard when the tables are sharded
    (core/clickhouse_shards.py); ClickHouse carries it out in the background."""
    for target in mutation_targets(clickhouse):
        target.execute(f"ALTER TABLE {table} DELETE WHERE {condition}")


def run(
    clickhouse: ClickHouse,
    plan: Plan,
    timeout_s: float = 600.0,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Each stage issued, then waited for until ClickHouse finished it (on every shard, when
    the tables are sharded: core/clickhouse_shards.py)."""
    targets = mutation_targets(clickhouse)
    if plan.tombstones is not None:  # before the calls go (again after a crash: harmless)
        tombstone(clickhouse, plan.tombstones)
    for stage in plan.stages:
        for table, condition in stage:
            issue(clickhouse, table, condition)
        issued_by = {
            id(t): int(t.query("SELECT toUnixTimestamp(now()) AS ts")[0]["ts"]) for t in targets
        }
        tables = {table for table, _ in stage}
        _wait(
            partial(_any_unfinished, targets, tables, issued_by),
            timeout_s,
            sleep,
            f"ClickHouse mutations of {', '.join(sorted(tables))} unfinished after "
            f"{timeout_s:.0f} s; see system.mutations (latest_fail_reason)",
        )
    # the replaced parts still hold the deleted rows: gone before the job may say done
    _wait(
        lambda: sum(t.drop_replaced_parts(plan.tables()) for t in targets) > 0,
        timeout_s,
        sleep,
        f"the parts replaced by the mutations of {', '.join(sorted(plan.tables()))} are still "
        f"on disk after {timeout_s:.0f} s; see system.parts (NOT active): a query holding them?",
    )


def _any_unfinished(targets: list[ClickHouse], tables: set[str], issued_by: dict[int, int]) -> bool:
    return any(unfinished(t, tables, issued_by[id(t)]) for t in targets)


def _wait(
    busy: Callable[[], bool], timeout_s: float, sleep: Callable[[float], None], late: str
) -> None:
    """Until `busy()` answers no, backing off from 50 ms to 2 s; MutationTimeout(late) past the
    deadline."""
    deadline = time.monotonic() + timeout_s
    pause = 0.05
    while busy():
        if time.monotonic() > deadline:
            raise MutationTimeout(late)
        sleep(pause)
        pause = min(pause * 2, 2.0)
