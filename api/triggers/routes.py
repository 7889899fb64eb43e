"""Zapier's polling triggers (API.md "Zapier, webhooks and polling triggers"): the newest items,
newest first, each with an `id` unique to it (Zapier deduplicates by `id`), at most `limit`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from sqlalchemy.engine import Connection

from api.calls.changes import call_items, oldest_change
from api.deps import Context, CurrentTenant, Db
from api.leads import service as lead_service
from api.leads.models import Lead, LeadAssignment
from api.leads.routes import LeadsTenant
from api.reports.filters import parse_types, report_zone
from api.tenancy import Tenant, company_keys
from core.calls.changes import newest_calls
from core.calls.items import CallItem
from core.clock import utc_now
from core.errors import error_responses
from core.paging import Page

router = APIRouter(
    prefix="/v1/triggers", tags=["triggers"], responses=error_responses(401, 403, 422)
)
CLOCK_SLACK_S = 60  # the API's clock may be behind ClickHouse's
Limit = Annotated[int, Query(ge=1, le=100, description="at most this many, newest first")]


class CallTrigger(BaseModel):
    items: list[CallItem]  # as a webhook's `data`: Zapier takes both as one shape


class LeadTrigger(BaseModel):
    items: list[Lead]


class AssignmentTrigger(BaseModel):
    items: list[LeadAssignment]


def newest_items(tenant: Tenant, db: Connection, types: tuple[str, ...], limit: int) -> CallTrigger:
    rows = newest_calls(
        tenant.clickhouse,
        limit,
        int(utc_now().timestamp()) + CLOCK_SLACK_S,  # whatever is stored: no cursor to skip
        oldest_change(tenant),
        types,
        tenant.visible(()),
    )
    items = call_items(tenant, db, rows, report_zone(tenant, None), None)
    return CallTrigger(items=[CallItem.model_validate(item) for item in items])


@router.get("/calls", response_model=CallTrigger)
async def new_calls(
    tenant: CurrentTenant,
    db: Db,
    type: Annotated[list[str] | None, Query(description="call types, repeatable")] = None,
    limit: Limit = 100,
) -> CallTrigger:
    """The calls stored last, newest first, each once at its latest version (history items,
    numbers masked): the tail of the change feed, so a call uploaded days after it was made
    still triggers."""
    types = parse_types(type or [])
    return await run_in_threadpool(newest_items, tenant, db, types, limit)


@router.get("/leads", response_model=LeadTrigger, responses=error_responses(402))
async def new_leads(
    tenant: LeadsTenant, context: Context, db: Db, limit: Limit = 100
) -> LeadTrigger:
    """The newest leads."""
    keys = company_keys(tenant.company, context.master_key)
    page = await run_in_threadpool(
        lead_service.list_leads, db, tenant, keys, lead_service.LeadQuery(), Page(limit)
    )
    return LeadTrigger(items=page.items)


@router.get("/lead-assignments", response_model=AssignmentTrigger, responses=error_responses(402))
async def lead_assignments(
    tenant: LeadsTenant, context: Context, db: Db, limit: Limit = 100
) -> AssignmentTrigger:
    """The newest assignments: each lead at its current employee (a re-assignment is a new
    item)."""
    keys = company_keys(tenant.company, context.master_key)
    found = await run_in_threadpool(lead_service.newest_assignments, db, tenant, keys, limit)
    return AssignmentTrigger(items=found)
