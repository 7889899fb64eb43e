"""Manager report endpoints: HTTP in, core/reports/queries functions, the api/reports/models.py
shapes out."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from api.audit.log import AuditWriter
from api.deps import Audit, Context, CurrentTenant, Db
from api.downloads import DOWNLOADABLE, Downloads
from api.employees.service import report_staff
from api.flags import Flag
from api.reports import models as m
from api.reports.filters import Range, ReportFilter
from api.reveal import RevealQuery, reveal_keys
from core.errors import error_responses
from core.number_crypto import CompanyKeys
from core.paging import SortKey, next_cursor, page_request
from core.reports import queries as q
from schemas.column_types import EARLIEST_TIME, LATEST_TIME

router = APIRouter(prefix="/v1/reports", tags=["reports"], responses=error_responses(401, 422))

Limit = Annotated[int, Query(ge=1, le=1000, description="items per page")]
Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page")]
CallbackWithin = Annotated[
    int | None,
    Query(
        ge=1,
        le=720,
        description="count a missed call as attended when a connected call with the client "
        "followed within this many hours (METRICS.md call-back SLA)",
    ),
]
GroupBy = Annotated[q.GroupBy, Query(description="the bucket of each series item")]

# working-hours cursors hold a day ordinal
DAY_ORDINALS = (EARLIEST_TIME.date().toordinal(), LATEST_TIME.date().toordinal())


def listing(rng: Range, result: tuple[list[dict[str, Any]], SortKey | None]) -> dict[str, Any]:
    items, after = result
    return {"range": rng.as_json(), "items": items, "next_cursor": next_cursor(after)}


def revealed_listing(
    audit: AuditWriter,
    target: str,
    rng: Range,
    result: tuple[list[dict[str, Any]], SortKey | None],
    keys: CompanyKeys | None,
) -> dict[str, Any]:
    """The page, and when its numbers were revealed the audit entry: how many, which range."""
    if keys is not None:
        audit("numbers.revealed", target, {"count": len(result[0]), "range": rng.as_json()})
    return listing(rng, result)


@router.get("/summary", response_model=m.Summary, responses=DOWNLOADABLE)
async def summary(tenant: CurrentTenant, rng: Range, f: ReportFilter, download: Downloads) -> Any:
    """Basic counts, longest call, never attended and not picked up clients, working time."""
    found = await run_in_threadpool(q.summary, tenant.clickhouse, f, rng)
    answer = {"range": rng.as_json(), **found}
    return download(answer, m.Summary, "summary", rng.zone, rows=None)


@router.get("/employees", response_model=m.EmployeesReport, responses=DOWNLOADABLE)
async def employee_report(
    tenant: CurrentTenant, db: Db, rng: Range, f: ReportFilter, download: Downloads
) -> Any:
    """One row per employee (all of them, or those selected) with counts and working time;
    archived employees only for a range with calls of theirs."""
    staff = report_staff(db, tenant.company.id, f.employee_ids)
    rows = await run_in_threadpool(q.employee_rows, tenant.clickhouse, f, rng, staff)
    archived = {e["id"] for e in staff if e["archived_at"] is not None}
    items = [
        row
        for row in rows
        if row["employee_id"] not in archived or row["total_calls"] or row["working_s"]
    ]
    answer = {"range": rng.as_json(), "items": items}
    return download(answer, m.EmployeesReport, "employees", rng.zone)


@router.get("/analytics", response_model=m.Analytics, responses=DOWNLOADABLE)
async def analytics(
    tenant: CurrentTenant,
    rng: Range,
    f: ReportFilter,
    download: Downloads,
    group_by: GroupBy = "day",
    unique_clients: Annotated[
        Flag,
        Query(
            description="false: leave each bucket's distinct numbers out (null), for charts "
            "of calls; the distinct count is most of the report's cost"
        ),
    ] = True,
) -> Any:
    """The basic counts per bucket; day and hour series include empty buckets."""
    series = await run_in_threadpool(
        q.analytics, tenant.clickhouse, f, rng, group_by, unique_clients
    )
    answer = {"range": rng.as_json(), "group_by": group_by, "series": series}
    return download(answer, m.Analytics, f"analytics-{group_by}", rng.zone, rows="series")


@router.get(
    "/never-attended",
    response_model=m.NeverAttended,
    response_model_exclude_unset=True,
    responses=DOWNLOADABLE,
)
async def never_attended(
    tenant: CurrentTenant,
    context: Context,
    audit: Audit,
    rng: Range,
    f: ReportFilter,
    download: Downloads,
    callback_within_h: CallbackWithin = None,
    limit: Limit = 100,
    cursor: Cursor = None,
    reveal: RevealQuery = False,
) -> Any:
    """Clients with a missed/rejected call that nobody answered or called back (METRICS.md)."""
    page = page_request(limit, cursor)
    keys = reveal_keys(tenant, context, reveal)
    result = await run_in_threadpool(
        q.never_attended, tenant.clickhouse, f, rng, page, callback_within_h, keys
    )
    answer = revealed_listing(audit, "/v1/reports/never-attended", rng, result, keys)
    return download(answer, m.NeverAttended, "never-attended", rng.zone)


@router.get("/not-picked-up", response_model=m.NotPickedUp, responses=DOWNLOADABLE)
async def not_picked_up(
    tenant: CurrentTenant,
    context: Context,
    audit: Audit,
    rng: Range,
    f: ReportFilter,
    download: Downloads,
    limit: Limit = 100,
    cursor: Cursor = None,
    reveal: RevealQuery = False,
) -> Any:
    """Clients who did not pick up an outgoing call and were never connected afterwards."""
    page = page_request(limit, cursor)
    keys = reveal_keys(tenant, context, reveal)
    result = await run_in_threadpool(q.not_picked_up, tenant.clickhouse, f, rng, page, keys)
    answer = revealed_listing(audit, "/v1/reports/not-picked-up", rng, result, keys)
    return download(answer, m.NotPickedUp, "not-picked-up", rng.zone)


@router.get("/customers", response_model=m.Customers, responses=DOWNLOADABLE)
async def customers(
    tenant: CurrentTenant,
    context: Context,
    audit: Audit,
    rng: Range,
    f: ReportFilter,
    download: Downloads,
    limit: Limit = 100,
    cursor: Cursor = None,
    reveal: RevealQuery = False,
) -> Any:
    """Every client with at least one call in range, most recent first."""
    page = page_request(limit, cursor)
    keys = reveal_keys(tenant, context, reveal)
    found = await run_in_threadpool(q.customers, tenant.clickhouse, f, rng, page, keys)
    answer = revealed_listing(audit, "/v1/reports/customers", rng, found, keys)
    return download(answer, m.Customers, "customers", rng.zone)


@router.get("/working-hours", response_model=m.WorkingHours, responses=DOWNLOADABLE)
async def working_hours(
    tenant: CurrentTenant,
    rng: Range,
    f: ReportFilter,
    download: Downloads,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Any:
    """Per employee and local day: first and last activity, working and talk time (a page of
    them, by day); team totals over the whole range."""
    page = page_request(limit, cursor, DAY_ORDINALS)
    items, after, team = await run_in_threadpool(q.working_hours, tenant.clickhouse, f, rng, page)
    answer = {**listing(rng, (items, after)), "team": team}
    return download(answer, m.WorkingHours, "working-hours", rng.zone)
