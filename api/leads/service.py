"""Leads as managers and integrations see them: the locked write transaction around
api/leads/store.py, and the reads (lists, one lead with its calls) with status and counts from
the calls (api/leads/calls.py), numbers in E.164 or masked for `viewer`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from api.calls.history import newest_calls, number_key
from api.context import ApiContext
from api.leads.calls import NO_CALLS, ClientCalls, client_calls, first_calls
from api.leads.models import (
    ChangeKind,
    Lead,
    LeadAssignment,
    LeadChange,
    LeadDetail,
    LeadPage,
    LeadStatus,
)
from api.leads.store import (
    PLAIN_FIELDS,
    SLOTS,
    LeadWriter,
    chunks,
    held_keys,
    newest_assigned,
    visible,
)
from api.policy import Role
from api.tenancy import Tenant, company_keys
from core.calls.items import People, call_labels, people_of, to_item
from core.company_clickhouse import CompanyClickHouse
from core.controlplane import lead_history, lead_numbers, leads
from core.errors import NotFound, PaymentRequired
from core.hooks.events import write_outbox
from core.number_crypto import CompanyKeys, decrypt_number
from core.paging import Page, cut, next_cursor
from core.reports.filters import CallFilter
from schemas.events import IntegrationEvent, integration_event_id

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
CURSOR_VALUES = (0, 2**53)  # created_at in microseconds since 1970
RECENT_CALLS = 100
COPIED = ("id", *PLAIN_FIELDS, "employee_id", "created_at", "updated_at")  # as stored
STATUS_SCAN = 500  # leads read per round while filtering by status


def leads_enabled(tenant: Tenant) -> Tenant:
    if not tenant.company.has_leads:
        raise PaymentRequired(
            "plan_required",
            "leads are part of the basic_lead plan; an admin can change it (PATCH /v1/company)",
        )
    return tenant


@contextmanager
def lead_transaction(
    context: ApiContext, tenant: Tenant, now: datetime, keep: bool = True
) -> Iterator[LeadWriter]:
    """A transaction holding the company's lead lock; committed (after the ClickHouse lookup is
    written) when the block ends, or rolled back when it raises or `keep` is false (dry run)."""
    with context.engine.connect() as conn:
        transaction = conn.begin()
        try:
            keys = company_keys(tenant.company, context.master_key)
            writer = LeadWriter(conn, tenant.company, keys, tenant.employee_ids, now)
            yield writer
            if keep:
                write_outbox(conn, lead_events(writer), now)
                writer.commit_to(context.clickhouse, lead_cursor=writer.cursor)
                transaction.commit()
            else:
                transaction.rollback()
        except BaseException:
            if transaction.is_active:
                transaction.rollback()
            raise


def lead_events(writer: LeadWriter) -> list[IntegrationEvent]:
    """`lead.created` / `lead.assigned` of the transaction, for the outbox (numbers masked in
    `data`, sealed beside it). An assignment's id is the lead's and its time's, as in the
    polling trigger; several changes of one lead in one transaction are one event."""
    events = {}
    people = people_of(writer.conn, writer.company.id) if writer.announced else {}
    for event_type, row in writer.announced:
        about = (
            (row["id"],)
            if event_type == "lead.created"
            else (row["id"], str(microseconds(row["assigned_at"])))
        )
        if event_type == "lead.assigned" and not row["employee_id"]:
            continue  # assigned, then taken away again in the same transaction
        event_id = integration_event_id(event_type, *about)
        events[event_id] = IntegrationEvent(
            id=event_id,
            type=event_type,
            company_id=writer.company.id,
            occurred_at=writer.now,
            data=to_lead(row, NO_CALLS, None, people).model_dump(mode="json"),
            sealed={f"{slot}_number": row[f"{slot}_enc"] for slot in SLOTS if row[f"{slot}_enc"]},
            numbers=sorted(held_keys(writer.conn, row["id"]).values()),
        )
    return list(events.values())


@dataclass(frozen=True, slots=True)
class LeadQuery:
    employee_ids: tuple[str, ...] = ()
    status: LeadStatus | None = None
    number: str | None = None
    q: str | None = None


def lead_select(tenant: Tenant, query: LeadQuery, keys: CompanyKeys) -> sa.Select[Any]:
    select = visible(tenant.company.id, tenant.employee_ids)
    if query.employee_ids:
        select = select.where(leads.c.employee_id.in_(query.employee_ids))
    if query.number is not None:
        holder = sa.select(lead_numbers.c.lead_id).where(
            lead_numbers.c.company_id == tenant.company.id,
            lead_numbers.c.number_key == number_key(query.number, tenant.company, keys),
        )
        select = select.where(leads.c.id.in_(holder))
    if query.q:
        escaped = query.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        select = select.where(
            sa.or_(
                *(
                    column.ilike(pattern, escape="\\")
                    for column in (leads.c.first_name, leads.c.last_name, leads.c.company)
                ),
                leads.c.email.ilike(pattern, escape="\\"),
            )
        )
    return select.order_by(leads.c.created_at.desc(), leads.c.id.desc())


def after(select: sa.Select[Any], sort_key: tuple[int, str] | None) -> sa.Select[Any]:
    if sort_key is None:
        return select
    created_at = EPOCH + sort_key[0] * MICROSECOND
    return select.where(
        sa.or_(
            leads.c.created_at < created_at,
            sa.and_(leads.c.created_at == created_at, leads.c.id < sort_key[1]),
        )
    )


def microseconds(at: datetime) -> int:
    return (at - EPOCH) // MICROSECOND


def sort_key(row: dict[str, Any]) -> tuple[int, str]:
    return microseconds(row["created_at"]), row["id"]


def numbers_of(db: Connection, lead_ids: list[str]) -> dict[str, list[str]]:
    """lead id -> its number keys."""
    found: dict[str, list[str]] = {}
    for part in chunks(lead_ids):
        rows = db.execute(
            sa.select(lead_numbers.c.lead_id, lead_numbers.c.number_key).where(
                lead_numbers.c.lead_id.in_(part)
            )
        )
        for row in rows:
            found.setdefault(row.lead_id, []).append(row.number_key)
    return found


def calls_of(
    db: Connection, ch: CompanyClickHouse, rows: list[dict[str, Any]]
) -> dict[str, ClientCalls]:
    """lead id -> the calls with any of its numbers."""
    return calls_by_lead(ch, numbers_of(db, [row["id"] for row in rows]))


def calls_by_lead(ch: CompanyClickHouse, held: dict[str, list[str]]) -> dict[str, ClientCalls]:
    """lead id -> the calls with any of its numbers, from `numbers_of`."""
    stats = client_calls(ch, [key for keys in held.values() for key in keys])
    return {
        lead_id: sum((stats.get(key, NO_CALLS) for key in keys), NO_CALLS)
        for lead_id, keys in held.items()
    }


def to_lead(
    row: dict[str, Any], calls: ClientCalls, reveal: CompanyKeys | None, people: People
) -> Lead:
    numbers = {
        slot: (
            decrypt_number(reveal, row[f"{slot}_enc"])
            if reveal is not None and row[f"{slot}_enc"]
            else row[f"{slot}_masked"]
        )
        for slot in SLOTS
    }
    person = people.get(row["employee_id"]) if row["employee_id"] else None
    return Lead(
        **{name: row[name] for name in COPIED},
        employee_name=person[0] if person else None,
        employee_email=person[1] if person else None,
        custom=json.loads(row.get("custom") or "{}"),
        primary_number=numbers["primary"],
        secondary_number=numbers["secondary"],
        status=calls.status,
        calls=calls.calls,
        connected_calls=calls.connected,
        last_call_at=calls.last_call_at,
    )


def shown_numbers(tenant: Tenant, keys: CompanyKeys) -> CompanyKeys | None:
    """E.164 from `manager` up, masked for `viewer` (API.md)."""
    return keys if tenant.role >= Role.manager else None


def list_leads(
    db: Connection, tenant: Tenant, keys: CompanyKeys, query: LeadQuery, page: Page
) -> LeadPage:
    """Newest first; with `status`, leads are read in rounds until a page is full."""
    select = lead_select(tenant, query, keys)
    wanted = page.limit + 1
    found: list[tuple[dict[str, Any], ClientCalls]] = []
    position = page.after
    while len(found) < wanted:
        batch = wanted if query.status is None else max(wanted, STATUS_SCAN)
        rows = [row._asdict() for row in db.execute(after(select, position).limit(batch))]
        calls = calls_of(db, tenant.clickhouse, rows)
        for row in rows:
            lead_calls = calls.get(row["id"], NO_CALLS)
            if query.status is None or lead_calls.status is query.status:
                found.append((row, lead_calls))
        if len(rows) < batch:
            break
        position = sort_key(rows[-1])
    shown, last = cut(found, page, lambda item: sort_key(item[0]))
    people = people_of(db, tenant.company.id)
    reveal = shown_numbers(tenant, keys)
    return LeadPage(
        items=[to_lead(row, calls, reveal, people) for row, calls in shown],
        next_cursor=next_cursor(last),
    )


def find_row(db: Connection, tenant: Tenant, lead_id: str) -> dict[str, Any]:
    select = visible(tenant.company.id, tenant.employee_ids).where(leads.c.id == lead_id)
    row = db.execute(select).first()
    if row is None:
        raise NotFound("not_found", f"no lead {lead_id}")
    return row._asdict()


def get_lead(
    db: Connection, tenant: Tenant, keys: CompanyKeys, lead_id: str, now: datetime
) -> LeadDetail:
    row = find_row(db, tenant, lead_id)
    held = numbers_of(db, [lead_id]).get(lead_id, [])
    calls = calls_by_lead(tenant.clickhouse, {lead_id: held}).get(lead_id, NO_CALLS)
    people = people_of(db, tenant.company.id)
    lead = to_lead(row, calls, shown_numbers(tenant, keys), people)
    zone = ZoneInfo(tenant.company.timezone)
    recent = []
    if held and calls.calls:
        call_filter = CallFilter(
            range=None,
            extra=("client_key IN %(lead_keys)s",),
            extra_params=(("lead_keys", tuple(held)),),
        )
        rows = newest_calls(tenant.clickhouse, call_filter, RECENT_CALLS, int(now.timestamp()))
        labels = call_labels(db, tenant.company.id, people)
        recent = [to_item(r, labels, zone).model_copy(update={"lead_id": lead_id}) for r in rows]
    history = lead_changes(db, tenant.clickhouse, lead_id, held, people, zone)
    return LeadDetail(**lead.model_dump(), recent_calls=recent, history=history)


def lead_changes(
    db: Connection,
    ch: CompanyClickHouse,
    lead_id: str,
    held: list[str],
    people: People,
    zone: ZoneInfo,
) -> list[LeadChange]:
    """The lead's stored history and the two status changes its calls made, oldest first."""
    rows = db.execute(
        sa.select(lead_history)
        .where(lead_history.c.lead_id == lead_id)
        .order_by(lead_history.c.seq, lead_history.c.kind.desc())  # created before assigned
    )
    changes = [
        LeadChange(
            at=row.at.astimezone(zone),
            kind=row.kind,
            employee_id=row.employee_id,
            employee_name=people[row.employee_id][0] if row.employee_id in people else None,
            fields=json.loads(row.fields),
        )
        for row in rows
    ]
    first, connected = first_calls(ch, held)
    steps: tuple[tuple[ChangeKind, int], ...] = (("attempted", first), ("connected", connected))
    for kind, ts in steps:
        if ts:
            at = datetime.fromtimestamp(ts, zone)
            changes.append(
                LeadChange(at=at, kind=kind, employee_id=None, employee_name=None, fields=[])
            )
    changes.sort(key=lambda change: change.at)  # stable: stored entries keep their order
    return changes


def assigned_numbers(
    db: Connection, company_id: str, employee_ids: list[str]
) -> dict[str, list[list[str]]]:
    """employee id -> the number keys of each lead assigned to them."""
    if not employee_ids:
        return {}
    rows = db.execute(
        sa.select(leads.c.id, leads.c.employee_id).where(
            leads.c.company_id == company_id, leads.c.employee_id.in_(employee_ids)
        )
    )
    owners = {row.id: row.employee_id for row in rows}
    held = numbers_of(db, sorted(owners))
    assigned: dict[str, list[list[str]]] = {}
    for lead_id, employee_id in owners.items():
        assigned.setdefault(employee_id, []).append(held.get(lead_id, []))
    return assigned


def read_lead(context: ApiContext, tenant: Tenant, lead_id: str, now: datetime) -> LeadDetail:
    """A lead as just written: read on a connection of its own (after the write committed)."""
    with context.engine.connect() as db:
        keys = company_keys(tenant.company, context.master_key)
        return get_lead(db, tenant, keys, lead_id, now)


def newest_assignments(
    db: Connection, tenant: Tenant, keys: CompanyKeys, limit: int
) -> list[LeadAssignment]:
    """Each visible lead at its current employee, the latest assigned first; its id is the
    lead and the time of the assignment (a re-assignment is a new item)."""
    rows = newest_assigned(db, tenant.company.id, tenant.employee_ids, limit)
    calls = calls_of(db, tenant.clickhouse, rows)
    reveal = shown_numbers(tenant, keys)
    people = people_of(db, tenant.company.id)
    return [
        LeadAssignment(
            id=f"{row['id']}:{microseconds(row['assigned_at'])}",
            lead_id=row["id"],
            employee_id=row["employee_id"],
            assigned_at=row["assigned_at"],
            lead=to_lead(row, calls.get(row["id"], NO_CALLS), reveal, people),
        )
        for row in rows
    ]
