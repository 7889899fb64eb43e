"""Follow-ups (API.md "Leads"): a time to call a client back, on a lead or a bare number, for an
employee. Plain functions of a connection and a time: the report API writes and lists them
(api/leads/followups.py); the worker completes them when a connected call with the client
follows (`close_by_calls`) and reminds the employee's phones at the due time (`claim_due`);
each answers its webhooks' events (`followup.completed`, `followup.due`) for the caller to add
to the outbox in the same transaction (streams/calls/followups.py)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.engine import Connection

from core.controlplane import followups
from core.number_crypto import CompanyKeys, decrypt_number
from schemas.events import HookEvent, IntegrationEvent, integration_event_id

FollowupStatus = Literal["open", "overdue", "done"]
CONNECTED_TYPES = frozenset({"incoming", "outgoing"})
REMINDERS_PER_ROUND = 500
REMINDER_DATA = {"action": "followups"}  # the FCM data message of a due follow-up


class Followup(BaseModel):
    id: str
    lead_id: str | None
    number: str = Field(description="masked, or E.164 for a manager and up")
    employee_id: str | None
    employee_name: str | None = None
    due_at: datetime
    note: str | None
    status: FollowupStatus = Field(description="overdue: open and past its due time")
    created_at: datetime
    done_at: datetime | None = None
    done_by_call_id: str | None = Field(
        default=None, description="the connected call that completed it (none: by hand)"
    )


def status_of(row: Any, now: datetime) -> FollowupStatus:
    if row.done_at is not None:
        return "done"
    return "overdue" if row.due_at <= now else "open"


People = dict[str, tuple[str, str | None]]  # employee id -> name, email (core/calls/items.py)


def to_followup(
    row: Any, people: People, zone: ZoneInfo, now: datetime, reveal: CompanyKeys | None
) -> Followup:
    person = people.get(row.employee_id) if row.employee_id else None
    return Followup(
        id=row.id,
        lead_id=row.lead_id,
        number=decrypt_number(reveal, row.number_enc) if reveal else row.number_masked,
        employee_id=row.employee_id,
        employee_name=person[0] if person else None,
        due_at=row.due_at.astimezone(zone),
        note=row.note,
        status=status_of(row, now),
        created_at=row.created_at.astimezone(zone),
        done_at=row.done_at.astimezone(zone) if row.done_at else None,
        done_by_call_id=row.done_by_call,
    )


def followup_event(
    kind: HookEvent, row: Any, people: People, zone: ZoneInfo, now: datetime
) -> IntegrationEvent:
    """`followup.due` / `followup.completed` of a follow-up (once each: the id is its own)."""
    item = to_followup(row, people, zone, now, None)
    return IntegrationEvent(
        id=integration_event_id(kind, row.id),
        type=kind,
        company_id=row.company_id,
        occurred_at=now,
        data=item.model_dump(mode="json"),
        sealed={"number": row.number_enc},
        numbers=[row.number_key],
    )


@dataclass(frozen=True, slots=True)
class ConnectedCall:
    call_id: str
    client_key: str
    started_at: datetime


def connected(
    calls: Iterable[tuple[str, str, str, str, datetime, int]],
) -> dict[str, list[ConnectedCall]]:
    """Stored calls (company, call id, client key, type, start, duration) -> the connected
    ones with a client, by company."""
    found: dict[str, list[ConnectedCall]] = {}
    for company_id, call_id, client_key, kind, started_at, duration_s in calls:
        if client_key and kind in CONNECTED_TYPES and duration_s > 0:
            found.setdefault(company_id, []).append(ConnectedCall(call_id, client_key, started_at))
    return found


def close_by_calls(
    conn: Connection,
    company_id: str,
    calls: Sequence[ConnectedCall],
    people: People,
    zone: ZoneInfo,
    now: datetime,
) -> list[IntegrationEvent]:
    """Each open follow-up of these clients done by the first of the calls made after it was
    created; a call stored again finds it done. Their `followup.completed` events."""
    keys = sorted({call.client_key for call in calls})
    rows = conn.execute(
        sa.select(followups).where(
            followups.c.company_id == company_id,
            followups.c.number_key.in_(keys),
            followups.c.done_at.is_(None),
        )
    ).all()
    done = []
    for row in rows:
        made = row.created_at.replace(microsecond=0)  # calls start on whole seconds
        after = [c for c in calls if c.client_key == row.number_key and c.started_at >= made]
        if not after:
            continue
        first = min(after, key=lambda call: call.started_at)
        closed = conn.execute(
            followups.update()
            .where(followups.c.id == row.id, followups.c.done_at.is_(None))
            .values(done_at=first.started_at, done_by_call=first.call_id)
        )
        if closed.rowcount:
            updated = conn.execute(sa.select(followups).where(followups.c.id == row.id)).one()
            done.append(followup_event("followup.completed", updated, people, zone, now))
    return done


def overdue(
    conn: Connection,
    company_id: str,
    employee_ids: Collection[str] | None,
    now: datetime,
    limit: int,
) -> tuple[list[Any], int]:
    """Open follow-ups due before `now` of the employees given (None: the whole company,
    unassigned ones too), the earliest due first: the first `limit` rows and how many in all."""
    late = sa.and_(
        followups.c.company_id == company_id,
        followups.c.done_at.is_(None),
        followups.c.due_at <= now,
    )
    if employee_ids is not None:
        late = sa.and_(late, followups.c.employee_id.in_(employee_ids))
    rows = conn.execute(
        sa.select(followups).where(late).order_by(followups.c.due_at, followups.c.id).limit(limit)
    ).all()
    total = conn.execute(sa.select(sa.func.count()).select_from(followups).where(late)).scalar_one()
    return list(rows), int(total)


def claim_due(
    conn: Connection,
    now: datetime,
    zone_of: Callable[[str], ZoneInfo],
    people_of: Callable[[str], People],
) -> tuple[list[Any], list[IntegrationEvent]]:
    """Open follow-ups due by `now` not reminded yet, claimed (`reminded_at`: a second worker's
    claim of the same row changes nothing): the rows (for their pushes once the transaction
    commits) and their `followup.due` events."""
    due = conn.execute(
        sa.select(followups)
        .where(
            followups.c.reminded_at.is_(None),
            followups.c.done_at.is_(None),
            followups.c.due_at <= now,
        )
        .order_by(followups.c.due_at)
        .limit(REMINDERS_PER_ROUND)
    ).all()
    claimed, events = [], []
    for row in due:
        taken = conn.execute(
            followups.update()
            .where(followups.c.id == row.id, followups.c.reminded_at.is_(None))
            .values(reminded_at=now)
        )
        if taken.rowcount:
            zone, people = zone_of(row.company_id), people_of(row.company_id)
            events.append(followup_event("followup.due", row, people, zone, now))
            claimed.append(row)
    return claimed, events
