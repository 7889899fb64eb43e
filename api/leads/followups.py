"""Follow-ups (API.md "Leads"): HTTP in, core/leads/followups.py, HTTP out. Created on a lead
(its primary number, else its secondary; its employee unless another is named) or on a number
in any format (the lead holding it, if one does); listed by status; changed or done by hand."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, BackgroundTasks, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy.engine import Connection

from api.calls.history import normalised_number
from api.context import ApiContext
from api.deps import Audit, Context, Db
from api.leads.models import LongText, Number
from api.leads.routes import LeadsTenant
from api.leads.service import find_row, shown_numbers
from api.leads.store import held_keys
from api.reports.filters import known_employees, report_zone
from api.tenancy import Tenant, company_keys
from core.calls.items import people_of
from core.calls.phone_numbers import mask_number
from core.clock import utc_now
from core.controlplane import followups
from core.devices.health import push_to_employees
from core.errors import Invalid, NotFound, error_responses
from core.leads.followups import REMINDER_DATA, Followup, FollowupStatus, to_followup
from core.leads.lookup import lead_holders
from core.number_crypto import CompanyKeys, blind_index, encrypt_number
from core.paging import Page, cut, next_cursor, page_request

router = APIRouter(
    prefix="/v1/followups", tags=["leads"], responses=error_responses(401, 402, 403, 422)
)


class FollowupCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lead_id: str | None = Field(default=None, description="the lead to call back (or `number`)")
    number: Number | None = Field(default=None, description="a client's number, any format")
    due_at: AwareDatetime = Field(description="RFC 3339 with an offset; kept to the second")
    note: LongText | None = None
    employee_id: str | None = Field(default=None, description="default: the lead's employee")


class FollowupUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    due_at: AwareDatetime | None = None
    note: LongText | None = None
    employee_id: str | None = None
    done: bool | None = Field(default=None, description="true: done by hand; false: open again")


class FollowupPage(BaseModel):
    items: list[Followup]
    next_cursor: str | None


def _second(at: datetime) -> datetime:
    return at.replace(microsecond=0)


def _employee(db: Connection, tenant: Tenant, employee_id: str | None) -> str | None:
    if employee_id is None:
        return None
    return known_employees(db, tenant, [employee_id])[0]


def _number_of_lead(db: Connection, tenant: Tenant, lead_id: str) -> dict[str, Any]:
    lead = find_row(db, tenant, lead_id)
    held = held_keys(db, lead_id)
    slot = "primary" if "primary" in held else "secondary"
    return {
        "lead_id": lead_id,
        "number_key": held[slot],
        "number_enc": lead[f"{slot}_enc"],
        "number_masked": lead[f"{slot}_masked"],
        "employee_id": lead["employee_id"],
    }


def _number(db: Connection, tenant: Tenant, keys: CompanyKeys, number: str) -> dict[str, Any]:
    e164 = normalised_number(number, tenant.company)
    key = blind_index(keys, e164)
    return {
        "lead_id": lead_holders(db, tenant.company.id, [key]).get(key),
        "number_key": key,
        "number_enc": encrypt_number(keys, e164),
        "number_masked": mask_number(e164),
        "employee_id": None,
    }


def _shown(db: Connection, tenant: Tenant, keys: CompanyKeys, row: Any) -> Followup:
    people = people_of(db, tenant.company.id)
    zone = report_zone(tenant, None)
    return to_followup(row, people, zone, utc_now(), shown_numbers(tenant, keys))


def _visible(tenant: Tenant) -> sa.ColumnElement[bool]:
    mine = followups.c.company_id == tenant.company.id
    if tenant.employee_ids is None:
        return mine
    return sa.and_(mine, followups.c.employee_id.in_(tenant.employee_ids))


def _find(db: Connection, tenant: Tenant, followup_id: str) -> Any:
    row = db.execute(
        sa.select(followups).where(followups.c.id == followup_id, _visible(tenant))
    ).first()
    if row is None:
        raise NotFound("not_found", f"no follow-up {followup_id}")
    return row


def push_followups(context: ApiContext, tenant: Tenant, employee_id: str | None) -> None:
    """The employee's phones ask for their follow-ups again (after the answer)."""
    if employee_id is not None:
        push_to_employees(
            context.engine, context.pusher, tenant.company.id, [employee_id], REMINDER_DATA,
            utc_now(),
        )  # fmt: skip


@router.post("", status_code=201, response_model=Followup, responses=error_responses(404))
def create_followup(
    body: FollowupCreate,
    tenant: LeadsTenant,
    context: Context,
    db: Db,
    audit: Audit,
    background: BackgroundTasks,
) -> Followup:
    """A time to call a client back, for an employee (their phone is reminded then)."""
    if (body.lead_id is None) == (body.number is None):
        raise Invalid(
            "invalid_request", "give a lead_id or a number, not both", [("lead_id", "or number")]
        )
    keys = company_keys(tenant.company, context.master_key)
    if body.lead_id is not None:
        about = _number_of_lead(db, tenant, body.lead_id)
    else:
        about = _number(db, tenant, keys, str(body.number))
    named = _employee(db, tenant, body.employee_id)
    row = {
        **about,
        "id": str(uuid.uuid4()),
        "company_id": tenant.company.id,
        "employee_id": named or about["employee_id"],
        "due_at": _second(body.due_at),
        "note": body.note,
        "created_at": utc_now(),
    }
    db.execute(followups.insert().values(**row))  # the request's transaction
    audit("followup.created", row["id"], {"lead_id": row["lead_id"]})
    background.add_task(push_followups, context, tenant, row["employee_id"])
    return _shown(db, tenant, keys, _find(db, tenant, row["id"]))


@router.get("", response_model=FollowupPage)
def list_followups(
    tenant: LeadsTenant,
    context: Context,
    db: Db,
    status: Annotated[FollowupStatus | None, Query(description="none: all")] = None,
    employee_id: Annotated[list[str] | None, Query(description="repeatable")] = None,
    lead_id: Annotated[str | None, Query(description="one lead's only")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
) -> FollowupPage:
    """By due time, earliest first (done ones too, with `status=done`)."""
    page: Page = page_request(limit, cursor)
    now = utc_now()
    query = sa.select(followups).where(_visible(tenant))
    wanted = known_employees(db, tenant, employee_id) if employee_id else ()
    if wanted:
        query = query.where(followups.c.employee_id.in_(wanted))
    if lead_id is not None:
        query = query.where(followups.c.lead_id == lead_id)
    if status == "done":
        query = query.where(followups.c.done_at.is_not(None))
    elif status is not None:
        query = query.where(followups.c.done_at.is_(None))
        due = followups.c.due_at <= now
        query = query.where(due if status == "overdue" else sa.not_(due))
    if page.after is not None:
        after_at = datetime.fromtimestamp(page.after[0], now.tzinfo)
        query = query.where(
            sa.or_(
                followups.c.due_at > after_at,
                sa.and_(followups.c.due_at == after_at, followups.c.id > page.after[1]),
            )
        )
    rows: list[Any] = list(
        db.execute(query.order_by(followups.c.due_at, followups.c.id).limit(page.limit + 1))
    )
    shown, after = cut(rows, page, lambda row: (int(row.due_at.timestamp()), str(row.id)))
    keys = company_keys(tenant.company, context.master_key)
    people = people_of(db, tenant.company.id)
    zone = report_zone(tenant, None)
    reveal = shown_numbers(tenant, keys)
    return FollowupPage(
        items=[to_followup(row, people, zone, now, reveal) for row in shown],
        next_cursor=next_cursor(after),
    )


@router.patch("/{followup_id}", response_model=Followup, responses=error_responses(404))
def update_followup(
    followup_id: str,
    body: FollowupUpdate,
    tenant: LeadsTenant,
    context: Context,
    db: Db,
    audit: Audit,
    background: BackgroundTasks,
) -> Followup:
    """The given fields change; `done` closes it by hand (or opens it again)."""
    before = _find(db, tenant, followup_id)
    given = body.model_dump(exclude_unset=True)
    values: dict[str, Any] = {}
    if given.get("due_at") is not None:
        values["due_at"] = _second(given["due_at"])
        values["reminded_at"] = None  # a new time: a new reminder
    if "note" in given:
        values["note"] = given["note"]
    if "employee_id" in given:
        values["employee_id"] = _employee(db, tenant, given["employee_id"])
    if given.get("done") is not None:
        values.update(
            {"done_at": utc_now(), "done_by_call": None}
            if given["done"]
            else {"done_at": None, "done_by_call": None}
        )
    if values:
        db.execute(followups.update().where(followups.c.id == followup_id).values(**values))
        audit("followup.updated", followup_id, {"fields": sorted(given)})
        after = values.get("employee_id", before.employee_id)
        for told in {before.employee_id, after}:  # their lists changed
            background.add_task(push_followups, context, tenant, told)
    keys = company_keys(tenant.company, context.master_key)
    return _shown(db, tenant, keys, _find(db, tenant, followup_id))
