"""The phones' lead feed (control-plane `lead_feed`): the report API appends a row per (lead,
employee) whose call list changed, ingest answers a phone the changes after its cursor. Positions
come from the company's `lead_seq`, taken under the company's lead lock, so they grow in commit
order and a cursor never skips a change."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core.controlplane import companies, lead_feed, leads


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
    """The feed rows of one locked transaction; `finish` stores them and the new position."""

    company_id: str
    seq: int
    rows: list[dict[str, Any]]

    def changed(self, lead_id: str, employee_ids: Iterable[str | None]) -> None:
        for employee_id in dict.fromkeys(employee_ids):
            if employee_id is not None:
                self.seq += 1
                self.rows.append(
                    {
                        "company_id": self.company_id,
                        "seq": self.seq,
                        "employee_id": employee_id,
                        "lead_id": lead_id,
                    }
                )

    @property
    def employees(self) -> set[str]:
        return {row["employee_id"] for row in self.rows}

    def finish(self, conn: Connection, **company_values: Any) -> None:
        if self.rows:
            conn.execute(lead_feed.insert(), self.rows)
        conn.execute(
            companies.update()
            .where(companies.c.id == self.company_id)
            .values(lead_seq=self.seq, **company_values)
        )


def feed_page(
    conn: Connection, company_id: str, employee_id: str, after: int, limit: int
) -> tuple[list[tuple[int, str, Any]], bool]:
    """The employee's leads changed after position `after`, each once at its latest change, in
    position order: (position, lead id, the lead's row or None when it is gone) and whether more
    follow.
    A lead now someone else's comes with its row; the caller tells it apart by `employee_id`."""
    latest = (
        sa.select(lead_feed.c.lead_id, sa.func.max(lead_feed.c.seq).label("seq"))
        .where(
            lead_feed.c.company_id == company_id,
            lead_feed.c.employee_id == employee_id,
            lead_feed.c.seq > after,
        )
        .group_by(lead_feed.c.lead_id)
        .subquery()
    )
    rows = list(
        conn.execute(
            sa.select(latest.c.seq, latest.c.lead_id, leads)
            .select_from(latest.outerjoin(leads, leads.c.id == latest.c.lead_id))
            .order_by(latest.c.seq)
            .limit(limit + 1)
        )
    )
    found = [
        (int(row.seq), row.lead_id, row if row.id is not None else None) for row in rows[:limit]
    ]
    return found, len(rows) > limit
