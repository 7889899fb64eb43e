"""Billing events applied once, and what they mean written to the company's row.

`receive` records the event's id first (a replay finds it and changes nothing), locks the
company's row (two deliveries at once apply one after the other), folds the event into the
stored account (core/billing/state.py) and writes the projection: status, when and why the
company ends, the plan in force and the one waiting, the period. A payment that failed tells
the owner and admins once per failure; every applied event is in the audit log."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core.audit import Actor, record
from core.billing.state import Account, Event, Invoice, Provider, apply, project
from core.controlplane import (
    billing_accounts,
    billing_events,
    billing_invoices,
    companies,
    insert_new,
)
from core.notices.lifecycle import local_time
from core.notices.notifications import Notice, notify

log = logging.getLogger(__name__)
Outcome = Literal["applied", "duplicate", "ignored"]
ACCOUNT_FIELDS = [column.name for column in billing_accounts.c if column.name != "company_id"]


def provider_actor(provider: Provider) -> Actor:
    return Actor(type="billing", id=provider)


def account_of(conn: Connection, company_id: str) -> Account | None:
    row = conn.execute(
        sa.select(billing_accounts).where(billing_accounts.c.company_id == company_id)
    ).first()
    if row is None:
        return None
    return Account(**{name: getattr(row, name) for name in ACCOUNT_FIELDS})


def company_of(conn: Connection, event: Event) -> str | None:
    """The company an event is about: named in it, or known by its subscription, customer or
    (a refund) the charge it refunds."""
    if event.company_id:
        named = sa.select(companies.c.id).where(companies.c.id == event.company_id)
        return conn.execute(named).scalar()
    accounts = billing_accounts.c
    for column, value in (
        (accounts.subscription_id, event.subscription_id),
        (accounts.customer_id, event.customer_id),
    ):
        if value:
            found = conn.execute(
                sa.select(accounts.company_id).where(
                    accounts.provider == event.provider, column == value
                )
            ).scalar()
            if found:
                return str(found)
    if event.invoice is not None:
        charged = sa.select(billing_invoices.c.company_id).where(
            billing_invoices.c.provider == event.provider,
            billing_invoices.c.invoice_id == event.invoice.invoice_id,
        )
        return conn.execute(charged).scalar()
    return None


@dataclass(frozen=True, slots=True)
class Received:
    outcome: Outcome
    company_id: str | None = None


def receive(conn: Connection, event: Event, now: datetime, console: str) -> Received:
    company_id = company_of(conn, event)
    if company_id is None:
        log.warning(
            "billing: %s event %s (%s) names no company here: ignored",
            event.provider,
            event.event_id,
            event.kind,
        )
        return Received("ignored")
    seen = {
        "provider": event.provider,
        "event_id": event.event_id,
        "company_id": company_id,
        "kind": event.kind,
        "occurred_at": event.at,
        "received_at": now,
    }
    if not insert_new(conn, billing_events, [seen]):
        return Received("duplicate", company_id)
    locked = sa.select(companies.c.id).where(companies.c.id == company_id).with_for_update()
    conn.execute(locked)
    before = account_of(conn, company_id)
    account = apply(before or Account(provider=event.provider), event)
    write_account(conn, company_id, account, before is None)
    if event.invoice is not None:
        keep_invoice(conn, event.provider, company_id, event.invoice)
    was_past_due = before is not None and before.status == "past_due"
    settle(conn, company_id, account, now)
    if account.status == "past_due" and not was_past_due:
        notify(conn, company_id, payment_failed(conn, company_id, account, console), now)
    details = {"event": event.event_id, "kind": event.kind, "status": account.status}
    record(
        conn,
        company_id,
        provider_actor(event.provider),
        "billing.event",
        company_id,
        "",
        now,
        details,
    )
    return Received("applied", company_id)


def write_account(conn: Connection, company_id: str, account: Account, new: bool) -> None:
    values = asdict(account)
    if new:
        conn.execute(billing_accounts.insert().values(company_id=company_id, **values))
    else:
        conn.execute(
            billing_accounts.update()
            .where(billing_accounts.c.company_id == company_id)
            .values(**values)
        )


def keep_invoice(conn: Connection, provider: Provider, company_id: str, invoice: Invoice) -> None:
    key = sa.and_(
        billing_invoices.c.provider == provider,
        billing_invoices.c.invoice_id == invoice.invoice_id,
    )
    values = asdict(invoice)
    if conn.execute(billing_invoices.update().where(key).values(**values)).rowcount == 0:
        conn.execute(
            billing_invoices.insert().values(provider=provider, company_id=company_id, **values)
        )


def settle(conn: Connection, company_id: str, account: Account, now: datetime) -> None:
    """The company's row as the account means it at `now`."""
    seen = project(account, now)
    values: dict[str, object] = {
        "status": seen.status,
        "ended_at": seen.ended_at,
        "end_reason": seen.end_reason,
        "cancel_reason": seen.cancel_reason,
        "pending_plan": seen.pending_plan,
        "period_end": seen.period_end,
    }
    if seen.plan is not None:
        values["plan"] = seen.plan
    if seen.ended_at is None:
        values["deactivated_at"] = None  # ended again later: announced again
    conn.execute(companies.update().where(companies.c.id == company_id).values(**values))


def settle_due(conn: Connection, now: datetime) -> list[str]:
    """Downgrades whose period ended take effect (the worker's lifecycle round)."""
    due = list(
        conn.execute(
            sa.select(companies.c.id).where(
                companies.c.pending_plan.is_not(None), companies.c.period_end <= now
            )
        ).scalars()
    )
    for company_id in due:
        account = account_of(conn, company_id)
        if account is not None:
            settle(conn, company_id, account, now)
    return due


def payment_failed(conn: Connection, company_id: str, account: Account, console: str) -> Notice:
    row = conn.execute(
        sa.select(companies.c.name, companies.c.timezone).where(companies.c.id == company_id)
    ).one()
    since = local_time(account.status_since, row.timezone) if account.status_since else "now"
    return Notice(
        "billing.payment_failed",
        f"payment_failed:{account.status_key}",
        f"A payment for {row.name} failed",
        f"The payment for {row.name}'s subscription failed ({since}). Everything keeps working "
        f"while {account.provider.capitalize()} retries it; update the payment method from "
        "Company, Billing, or the company is deactivated when the retries run out.",
        f"{console}/console/#/company",
    )
