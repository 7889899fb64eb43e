"""The audit log's reader and the writer bound to a request (its one writer: core/audit.py).
Entries are appended only; no route changes or deletes them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.engine import Connection

from api.tenancy import Tenant
from core.audit import Actor, record
from core.clock import utc_now
from core.controlplane import audit_log
from core.paging import Page, SortKey, cut


class AuditEntry(BaseModel):
    id: str
    at: datetime
    actor: Actor
    action: str = Field(description="e.g. numbers.revealed, api_key.created, login.failed")
    target: str = Field(description="what the action was about (an id, a route)")
    ip: str
    details: dict[str, Any] = Field(description="counts and filters; never a number")


class AuditPage(BaseModel):
    items: list[AuditEntry]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Entries of one action (or of every action under a prefix ending in "."), one actor
    (a user's or an API key's id), in [since, until)."""

    action: str | None = None
    actor_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def where(self) -> list[sa.ColumnElement[bool]]:
        found = []
        if self.action and self.action.endswith("."):
            found.append(audit_log.c.action.startswith(self.action, autoescape=True))
        elif self.action:
            found.append(audit_log.c.action == self.action)
        if self.actor_id:
            found.append(audit_log.c.actor_id == self.actor_id)
        if self.since:
            found.append(audit_log.c.at >= self.since)
        if self.until:
            found.append(audit_log.c.at < self.until)
        return found


def entries(
    db: Connection, company_id: str, page: Page, only: AuditFilter = AuditFilter()
) -> tuple[list[AuditEntry], SortKey | None]:
    """Newest first; the cursor's key is the last entry's id."""
    query = sa.select(audit_log).where(audit_log.c.company_id == company_id, *only.where())
    if page.after is not None:
        query = query.where(audit_log.c.id < page.after[1])
    rows = db.execute(query.order_by(audit_log.c.id.desc()).limit(page.limit + 1)).all()
    items = [
        AuditEntry(
            id=row.id,
            at=row.at,
            actor=Actor(type=row.actor_type, id=row.actor_id),
            action=row.action,
            target=row.target,
            ip=row.ip,
            details=json.loads(row.details),
        )
        for row in rows
    ]
    return cut(items, page, lambda item: (0, item.id))


@dataclass(frozen=True, slots=True)
class AuditWriter:
    """`record` bound to the request: its company, caller and address."""

    db: Connection
    company_id: str
    actor: Actor
    ip: str

    def __call__(self, action: str, target: str, details: dict[str, Any] | None = None) -> None:
        record(
            self.db,
            self.company_id,
            self.actor,
            action,
            target,
            self.ip,
            utc_now(),
            details,
        )


def actor_of(tenant: Tenant) -> Actor:
    if tenant.user_id is not None:
        return Actor(type="user", id=tenant.user_id)
    assert tenant.key_id is not None  # a tenant is a user or a key
    return Actor(type="api_key", id=tenant.key_id)
