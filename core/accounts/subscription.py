"""The subscription lifecycle (API.md "Subscription"): active -> cancelled -> deactivated ->
purged. `status` holds what the owner or the operator last set (active | cancelled); from
`period_end` on the company is deactivated whatever it holds, and `export_grace_days` after
that its data is purged (core/purge.py). Every function takes the time it acts at, so tests
drive the lifecycle with their own clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core.controlplane import Company, companies

Status = Literal["active", "cancelled", "deactivated"]
STATUSES: tuple[Status, ...] = ("active", "cancelled", "deactivated")
PLANS = ("basic", "basic_lead")


class UnknownCompany(LookupError):
    """No company with this id."""


def status_at(stored: str, period_end: datetime | None, now: datetime) -> Status:
    if period_end is not None and now >= period_end:
        return "deactivated"
    return "cancelled" if stored == "cancelled" else "active"


def company_status(company: Company, now: datetime) -> Status:
    return status_at(company.status, company.period_end, now)


def purge_at(period_end: datetime, grace_days: int) -> datetime:
    return period_end + timedelta(days=grace_days)


@dataclass(frozen=True, slots=True)
class Subscription:
    company_id: str
    name: str
    plan: str
    status: Status
    period_end: datetime | None


def _update(conn: Connection, company_id: str, **values: object) -> None:
    if conn.execute(
        companies.update().where(companies.c.id == company_id).values(**values)
    ).rowcount:
        return
    raise UnknownCompany(company_id)


def subscription(conn: Connection, company_id: str, now: datetime) -> Subscription:
    row = conn.execute(sa.select(companies).where(companies.c.id == company_id)).first()
    if row is None:
        raise UnknownCompany(company_id)
    return _of(row, now)


def _of(row: sa.Row[tuple[object, ...]], now: datetime) -> Subscription:
    return Subscription(
        company_id=row.id,
        name=row.name,
        plan=row.plan,
        status=status_at(row.status, row.period_end, now),
        period_end=row.period_end,
    )


def cancel(conn: Connection, company_id: str, now: datetime) -> Subscription:
    """Renewal stops: everything works until `period_end`. Without a paid period (no billing
    set one) the subscription ends now."""
    current = subscription(conn, company_id, now)
    _update(conn, company_id, status="cancelled", period_end=current.period_end or now)
    return subscription(conn, company_id, now)


def reactivate(conn: Connection, company_id: str, now: datetime) -> Subscription:
    """Back to active: a cancellation is undone; a period that ended is cleared (billing sets
    the next one)."""
    current = subscription(conn, company_id, now)
    ended = current.period_end is not None and current.period_end <= now
    _update(
        conn,
        company_id,
        status="active",
        period_end=None if ended else current.period_end,
        deactivated_at=None,
    )
    return subscription(conn, company_id, now)


def set_period_end(
    conn: Connection, company_id: str, period_end: datetime | None, now: datetime
) -> Subscription:
    """The operator's billing: the end of the paid period (None: no end)."""
    _update(conn, company_id, period_end=period_end)
    return subscription(conn, company_id, now)


def set_plan(conn: Connection, company_id: str, plan: str) -> None:
    if plan not in PLANS:
        raise ValueError(f"unknown plan {plan!r}: one of {', '.join(PLANS)}")
    _update(conn, company_id, plan=plan)


def listed(conn: Connection, now: datetime, state: Status | None = None) -> list[Subscription]:
    rows = conn.execute(sa.select(companies).order_by(companies.c.created_at, companies.c.id))
    found = [_of(row, now) for row in rows]
    return [s for s in found if state is None or s.status == state]


def newly_deactivated(conn: Connection, now: datetime) -> list[str]:
    """Companies whose period ended since the last call: marked, so each is announced once."""
    due = sa.and_(companies.c.period_end <= now, companies.c.deactivated_at.is_(None))
    ids = list(conn.execute(sa.select(companies.c.id).where(due)).scalars())
    if ids:
        conn.execute(
            companies.update().where(due, companies.c.id.in_(ids)).values(deactivated_at=now)
        )
    return ids


def due_for_purge(conn: Connection, now: datetime, grace_days: int) -> list[str]:
    cutoff = now - timedelta(days=grace_days)
    return list(
        conn.execute(sa.select(companies.c.id).where(companies.c.period_end <= cutoff)).scalars()
    )
