"""The lead feeds: every lead write gives the lead the next position of its company
(`leads.feed_seq`), records a lead taken from an employee in `lead_feed` and a deleted one in
`lead_deletions`; ingest answers a phone what changed for its employee after its cursor, the
report API an integration what changed in the company (GET /v1/changes/leads). Positions come from the company's
`lead_seq`, taken under the company's lead lock, so they grow in commit order and a cursor never
skips a change."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core.controlplane import companies, lead_deletions, lead_feed, leads


def lock_company_leads(conn: Connection, company_id: str) -> tuple[str | None, int]:
    """Take the company's lead lock for the rest of the transaction (an UPDATE of its row: a row
    lock on PostgreSQL, the write lock on SQLite) and answer its round-robin cursor and feed
    position."""
    conn.execute(
        companies.update().where(companies.c.id == company_id).values(lead_seq=companies.c.lead_seq)
    )
    row = conn.execute(
        sa.select(companies.c.lead_cursor, companies.c.lead_seq).where(companies.c.id == company_id)
    ).one()
    return row.lead_cursor, int(row.lead_seq)


@dataclass
class FeedWriter:
    """Feed positions of one locked transaction: each changed lead takes the next one (its
    `feed_seq`), each lead taken from an employee leaves a row; `finish` stores the rows and the
    company's new position."""

    company_id: str
    seq: int
    rows: list[dict[str, Any]] = field(default_factory=list)
    deletions: list[dict[str, Any]] = field(default_factory=list)
    employees: set[str] = field(default_factory=set)  # whose phones' lists changed

    def position(self, employee_id: str | None) -> int:
        """The position of a lead changed now, which belongs to `employee_id`."""
        self.seq += 1
        if employee_id is not None:
            self.employees.add(employee_id)
        return self.seq

    def taken(self, lead_id: str, employee_id: str | None) -> None:
        """The lead is no longer `employee_id`'s (re-assigned or deleted)."""
        if employee_id is None:
            return
        self.seq += 1
        self.employees.add(employee_id)
        self.rows.append(
            {
                "company_id": self.company_id,
                "seq": self.seq,
                "employee_id": employee_id,
                "lead_id": lead_id,
            }
        )

    def deleted(self, lead_id: str, employee_id: str | None) -> None:
        """The lead is gone (from its employee's phones too)."""
        self.taken(lead_id, employee_id)
        self.seq += 1
        self.deletions.append({"company_id": self.company_id, "seq": self.seq, "lead_id": lead_id})

    def finish(self, conn: Connection, **company_values: Any) -> None:
        if self.rows:
            conn.execute(lead_feed.insert(), self.rows)
        if self.deletions:
            conn.execute(lead_deletions.insert(), self.deletions)
        conn.execute(
            companies.update()
            .where(companies.c.id == self.company_id)
            .values(lead_seq=self.seq, **company_values)
        )


def feed_page(
    conn: Connection, company_id: str, employee_id: str, after: int, limit: int
) -> list[tuple[int, str, Any]]:
    """The employee's leads changed after position `after`, in position order, at most `limit`:
    (position, lead id, the lead's row), the row None for a lead taken from the employee since
    (each lead once: a lead taken and given back is theirs, at its later position)."""
    held = list(
        conn.execute(
            sa.select(leads)
            .where(
                leads.c.company_id == company_id,
                leads.c.employee_id == employee_id,
                leads.c.feed_seq > after,
            )
            .order_by(leads.c.feed_seq)
            .limit(limit)
        )
    )
    still_theirs = sa.select(leads.c.id).where(
        leads.c.company_id == company_id, leads.c.employee_id == employee_id
    )
    taken = list(
        conn.execute(
            sa.select(lead_feed.c.lead_id, sa.func.max(lead_feed.c.seq).label("seq"))
            .where(
                lead_feed.c.company_id == company_id,
                lead_feed.c.employee_id == employee_id,
                lead_feed.c.seq > after,
                lead_feed.c.lead_id.not_in(still_theirs),
            )
            .group_by(lead_feed.c.lead_id)
            .order_by(sa.func.max(lead_feed.c.seq))
            .limit(limit)
        )
    )
    changes: list[tuple[int, str, Any]] = [(int(row.feed_seq), str(row.id), row) for row in held]
    changes += [(int(row.seq), str(row.lead_id), None) for row in taken]
    return sorted(changes, key=lambda change: change[0])[:limit]


def company_changes(
    conn: Connection, company_id: str, after: int, limit: int
) -> list[tuple[int, str, Any]]:
    """The company's leads changed after position `after`, in position order, at most `limit`:
    (position, lead id, the lead's row), the row None for a deleted lead. Each lead once, at its
    last change (an index range of `leads_by_change` and of `lead_deletions`)."""
    changed = conn.execute(
        sa.select(leads)
        .where(leads.c.company_id == company_id, leads.c.feed_seq > after)
        .order_by(leads.c.feed_seq)
        .limit(limit)
    )
    deleted = conn.execute(
        sa.select(lead_deletions.c.seq, lead_deletions.c.lead_id)
        .where(lead_deletions.c.company_id == company_id, lead_deletions.c.seq > after)
        .order_by(lead_deletions.c.seq)
        .limit(limit)
    )
    changes: list[tuple[int, str, Any]] = [(int(row.feed_seq), str(row.id), row) for row in changed]
    changes += [(int(row.seq), str(row.lead_id), None) for row in deleted]
    return sorted(changes, key=lambda change: change[0])[:limit]
