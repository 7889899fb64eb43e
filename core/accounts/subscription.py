"""The subscription lifecycle (API.md "Subscription"): trialing | active | past_due ->
cancelled -> deactivated -> purged. `status` holds what was last set (by the owner, the
operator or a billing provider's events, core/billing); `ended_at` is when the company is
deactivated, and only a cancellation or a provider's stop for non-payment sets it, so a
trialing, active or past-due company works whatever `period_end` says, and only a company that
ended for a reason is purged, `export_grace_days` after it ended (core/purge.py). Every function
takes the time it acts at, so tests drive the lifecycle with their own clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core.controlplane import Company, companies

Status = Literal["trialing", "active", "past_due", "cancelled", "deactivated"]
STATUSES: tuple[Status, ...] = ("trialing", "active", "past_due", "cancelled", "deactivated")
ENDING: tuple[Status, ...] = ("cancelled", "deactivated")  # the only ones `ended_at` applies to
PLANS = ("basic", "basic_lead")


class UnknownCompany(LookupError):
    """No company with this id."""


def status_at(stored: str, ended_at: datetime | None, now: datetime) -> Status:
    if stored == "deactivated" or (stored in ENDING and ended_at is not None and now >= ended_at):
        return "deactivated"
    return stored if stored in STATUSES else "active"


def company_status(company: Company, now: datetime) -> Status:
    return status_at(company.status, company.ended_at, now)


def purge_at(ended_at: datetime, grace_days: int) -> datetime:
    return ended_at + timedelta(days=grace_days)


@dataclass(frozen=True, slots=True)
class Subscription:
    company_id: str
    name: str
    plan: str
    status: Status
    period_end: datetime | None
    ended_at: datetime | None = None
    pending_plan: str | None = None
    cancel_reason: str | None = None


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
        status=status_at(row.status, row.ended_at, now),
        period_end=row.period_end,
        ended_at=row.ended_at,
        pending_plan=row.pending_plan,
        cancel_reason=row.cancel_reason,
    )


def cancel(
    conn: Connection, company_id: str, now: datetime, reason: str | None = None
) -> Subscription:
    """Renewal stops: everything works until `period_end`, then the company is deactivated.
    Without a paid period (no billing set one) the subscription ends now."""
    current = subscription(conn, company_id, now)
    _update(
        conn,
        company_id,
        status="cancelled",
        ended_at=current.period_end or now,
        end_reason="cancelled",
        cancel_reason=reason,
    )
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
        ended_at=None,
        end_reason=None,
        cancel_reason=None,
        deactivated_at=None,
    )
    return subscription(conn, company_id, now)


def set_period_end(
    conn: Connection, company_id: str, period_end: datetime | None, now: datetime
) -> Subscription:
    """The operator's billing: the end of the paid period (None: no end). A company cancelled
    at its period's end now ends at this one; any other keeps working whatever it says."""
    current = subscription(conn, company_id, now)
    values: dict[str, object] = {"period_end": period_end}
    if current.status == "cancelled" or (
        current.status == "deactivated" and current.ended_at == current.period_end
    ):
        values["ended_at"] = period_end or now
    _update(conn, company_id, **values)
    return subscription(conn, company_id, now)


def set_plan(conn: Connection, company_id: str, plan: str) -> None:
    if plan not in PLANS:
        raise ValueError(f"unknown plan {plan!r}: one of {', '.join(PLANS)}")
    _update(conn, company_id, plan=plan, pending_plan=None)


def listed(conn: Connection, now: datetime, state: Status | None = None) -> list[Subscription]:
    rows = conn.execute(sa.select(companies).order_by(companies.c.created_at, companies.c.id))
    found = [_of(row, now) for row in rows]
    return [s for s in found if state is None or s.status == state]


def ending_for_a_reason() -> sa.ColumnElement[bool]:
    return sa.and_(companies.c.status.in_(ENDING), companies.c.ended_at.is_not(None))


@dataclass(frozen=True, slots=True)
class Ended:
    company_id: str
    reason: str  # cancelled | non_payment
    ended_at: datetime


def newly_deactivated(conn: Connection, now: datetime) -> list[Ended]:
    """Companies that ended since the last call: marked, so each is announced once."""
    due = sa.and_(
        ending_for_a_reason(), companies.c.ended_at <= now, companies.c.deactivated_at.is_(None)
    )
    rows = conn.execute(
        sa.select(companies.c.id, companies.c.end_reason, companies.c.ended_at)
        .where(due)
        .order_by(companies.c.id)
    ).all()
    if rows:
        conn.execute(
            companies.update()
            .where(due, companies.c.id.in_([row.id for row in rows]))
            .values(deactivated_at=now)
        )
    return [Ended(row.id, row.end_reason or "cancelled", row.ended_at) for row in rows]


def due_for_purge(conn: Connection, now: datetime, grace_days: int) -> list[str]:
    """Only a company cancelled or stopped for non-payment, past its export window: never a
    trialing, active or past-due one, whatever `period_end` says."""
    cutoff = now - timedelta(days=grace_days)
    return list(
        conn.execute(
            sa.select(companies.c.id).where(ending_for_a_reason(), companies.c.ended_at <= cutoff)
        ).scalars()
    )
