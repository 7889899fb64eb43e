"""Erasures in the control plane (API.md "Privacy"): what pending ones hide from every read
path, the suppression list the worker applies to new uploads, and the integration events that
carry an erased number. The ClickHouse side is core/privacy/mutations.py."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core.company_clickhouse import Hidden
from core.controlplane import erasures, suppressions

Kind = Literal["number", "employee"]
COUNT_NAMES = ("calls", "contacts", "notes", "leads", "statuses")


# (conn, company_id, number_key): drops what the hooks hold of the number
NumberForgetter = Callable[[Connection, str, str], None]


@dataclass(frozen=True, slots=True)
class Erasure:
    id: str
    company_id: str
    kind: Kind
    number_key: str | None
    employee_id: str | None
    devices: tuple[str, ...]
    status: str
    counts: dict[str, int]
    requested_at: datetime
    done_at: datetime | None


def _of(row: Any) -> Erasure:
    return Erasure(
        id=row.id,
        company_id=row.company_id,
        kind=row.kind,
        number_key=row.number_key,
        employee_id=row.employee_id,
        devices=tuple(json.loads(row.devices)),
        status=row.status,
        counts=json.loads(row.counts),
        requested_at=row.requested_at,
        done_at=row.done_at,
    )


def request_erasure(
    conn: Connection,
    company_id: str,
    now: datetime,
    *,
    number_key: str | None = None,
    employee_id: str | None = None,
    devices: Iterable[str] = (),
    suppress: bool = False,
    counts: dict[str, int] | None = None,
    forget_number: NumberForgetter,
) -> Erasure:
    """A pending erasure: hidden from every read from this transaction's commit on; its
    number's integration events and undelivered webhooks go at once, in this transaction,
    through `forget_number` (core/hooks/events.forget_number: privacy calls hooks through
    this, and hooks reads privacy's `blocked_numbers`, so neither imports the other both ways)."""
    erasure_id = str(uuid.uuid4())
    conn.execute(
        erasures.insert().values(
            id=erasure_id,
            company_id=company_id,
            kind="number" if number_key else "employee",
            number_key=number_key,
            employee_id=employee_id,
            devices=json.dumps(sorted(devices)),
            suppress=suppress,
            status="pending",
            counts=json.dumps(counts or {}),
            requested_at=now,
        )
    )
    if number_key is not None:
        if suppress:
            suppress_number(conn, company_id, number_key, now)
        forget_number(conn, company_id, number_key)
    found = find(conn, company_id, erasure_id)
    assert found is not None
    return found


def suppress_number(conn: Connection, company_id: str, number_key: str, now: datetime) -> None:
    exists = conn.execute(
        sa.select(suppressions.c.number_key).where(
            suppressions.c.company_id == company_id, suppressions.c.number_key == number_key
        )
    ).first()
    if exists is None:
        conn.execute(
            suppressions.insert().values(
                company_id=company_id, number_key=number_key, created_at=now
            )
        )


def find(conn: Connection, company_id: str, erasure_id: str) -> Erasure | None:
    row = conn.execute(
        sa.select(erasures).where(erasures.c.id == erasure_id, erasures.c.company_id == company_id)
    ).first()
    return None if row is None else _of(row)


def pending(conn: Connection, company_id: str | None = None) -> list[Erasure]:
    query = sa.select(erasures).where(erasures.c.status == "pending")
    if company_id is not None:
        query = query.where(erasures.c.company_id == company_id)
    return [_of(row) for row in conn.execute(query.order_by(erasures.c.requested_at))]


def hidden(conn: Connection, company_id: str) -> Hidden:
    """What the pending erasures of a company hide from its reads."""
    keys: set[str] = set()
    devices: set[str] = set()
    for erasure in pending(conn, company_id):
        if erasure.number_key:
            keys.add(erasure.number_key)
        devices.update(erasure.devices)
    return Hidden(client_keys=tuple(sorted(keys)), devices=tuple(sorted(devices)))


def counted(conn: Connection, erasure: Erasure, counts: dict[str, int]) -> None:
    """The rows the erasure found, before its mutations (the lead count came with the request)."""
    merged = {name: 0 for name in COUNT_NAMES} | erasure.counts | counts
    conn.execute(
        erasures.update().where(erasures.c.id == erasure.id).values(counts=json.dumps(merged))
    )


def issued(conn: Connection, erasure_id: str, now: datetime) -> None:
    """The worker sends ClickHouse the erasure's mutations (the first time: kept on re-runs)."""
    conn.execute(
        erasures.update()
        .where(erasures.c.id == erasure_id, erasures.c.issued_at.is_(None))
        .values(issued_at=now)
    )


def finished(conn: Connection, erasure_id: str, now: datetime) -> None:
    """Done: its blind index is forgotten here (the suppression list keeps it if asked)."""
    conn.execute(
        erasures.update()
        .where(erasures.c.id == erasure_id)
        .values(status="done", done_at=now, number_key=None)
    )


def blocked_numbers(conn: Connection, company_ids: Iterable[str]) -> dict[str, set[str]]:
    """company -> the numbers no new integration event may carry: suppressed or being erased."""
    wanted = sorted(set(company_ids))
    found = suppressed(conn, wanted)
    if wanted:
        for company_id, key in conn.execute(
            sa.select(erasures.c.company_id, erasures.c.number_key).where(
                erasures.c.status == "pending",
                erasures.c.number_key.is_not(None),
                erasures.c.company_id.in_(wanted),
            )
        ):
            found.setdefault(company_id, set()).add(key)
    return found


def suppressed(conn: Connection, company_ids: Iterable[str]) -> dict[str, set[str]]:
    """company -> its suppressed numbers (the worker drops their calls and contacts)."""
    wanted = sorted(set(company_ids))
    found: dict[str, set[str]] = {}
    if wanted:
        for company_id, key in conn.execute(
            sa.select(suppressions.c.company_id, suppressions.c.number_key).where(
                suppressions.c.company_id.in_(wanted)
            )
        ):
            found.setdefault(company_id, set()).add(key)
    return found


@dataclass(frozen=True, slots=True)
class Dropped:
    """What the worker never stores for a company: suppressed numbers (calls and contacts) and
    the devices of employees who withdrew their consent (everything)."""

    numbers: frozenset[str] = frozenset()
    devices: frozenset[str] = frozenset()


def dropped(conn: Connection, company_ids: Iterable[str]) -> dict[str, Dropped]:
    wanted = sorted(set(company_ids))
    numbers = suppressed(conn, wanted)
    devices: dict[str, set[str]] = {}
    if wanted:
        for company_id, listed in conn.execute(
            sa.select(erasures.c.company_id, erasures.c.devices).where(
                erasures.c.kind == "employee", erasures.c.company_id.in_(wanted)
            )
        ):
            devices.setdefault(company_id, set()).update(json.loads(listed))
    return {
        company_id: Dropped(
            frozenset(numbers.get(company_id, ())), frozenset(devices.get(company_id, ()))
        )
        for company_id in wanted
    }
