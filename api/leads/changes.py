"""The leads' change feed (API.md "Change feeds"): HTTP in, core/leads/feed.py, HTTP out. Each
lead once, at the position of its last change, as `GET /v1/leads` shows it; a deleted one (by
the API, the console or an erasure of its number) by id."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlalchemy.engine import Connection

from api.calls.changes import ChangeCursor, ChangeLimit
from api.deps import Context, Db
from api.leads import service
from api.leads.calls import NO_CALLS
from api.leads.models import Lead
from api.leads.routes import LeadsTenant
from api.tenancy import Tenant, company_keys
from core.calls.items import people_of
from core.errors import error_responses
from core.leads.feed import company_changes
from core.number_crypto import CompanyKeys
from core.paging import encode_cursor, page_request

router = APIRouter(
    prefix="/v1/changes", tags=["changes"], responses=error_responses(401, 402, 403, 422)
)


class LeadUpsert(BaseModel):
    op: Literal["upsert"] = "upsert"
    lead: Lead


class LeadDelete(BaseModel):
    op: Literal["delete"] = "delete"
    id: str = Field(description="the deleted lead's id")


class LeadChanges(BaseModel):
    items: list[Annotated[LeadUpsert | LeadDelete, Field(discriminator="op")]]
    next_cursor: str = Field(description="pass as `cursor` for the next page (also when empty)")


def changed_leads(
    db: Connection, tenant: Tenant, keys: CompanyKeys, after: int, limit: int
) -> LeadChanges:
    changes = company_changes(db, tenant.company.id, after, limit)
    rows = [row._asdict() for _seq, _id, row in changes if row is not None]
    calls = service.calls_of(db, tenant.clickhouse, rows)
    people = people_of(db, tenant.company.id)
    reveal = service.shown_numbers(tenant, keys)
    items: list[LeadUpsert | LeadDelete] = [
        LeadDelete(id=lead_id)
        if row is None
        else LeadUpsert(
            lead=service.to_lead(row._asdict(), calls.get(lead_id, NO_CALLS), reveal, people)
        )
        for _seq, lead_id, row in changes
    ]
    position = changes[-1][0] if changes else after
    return LeadChanges(items=items, next_cursor=encode_cursor(position, ""))


@router.get("/leads", response_model=LeadChanges)
async def lead_changes(
    tenant: LeadsTenant,
    context: Context,
    db: Db,
    cursor: ChangeCursor = None,
    limit: ChangeLimit = 100,
) -> Any:
    """The company's leads in the order they last changed, oldest first: each created or
    changed lead (`upsert`, as it is now) and each deleted one (`delete`)."""
    page = page_request(limit, cursor)
    after = page.after[0] if page.after is not None else 0
    keys = company_keys(tenant.company, context.master_key)
    return await run_in_threadpool(changed_leads, db, tenant, keys, after, limit)
