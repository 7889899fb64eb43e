"""Manager report endpoints: HTTP in, api/report_queries.py functions, JSON out."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from api import report_queries as q
from api.call_filters import Range, ReportFilter
from api.cursors import SORT_VALUES, decode_cursor, encode_cursor
from api.deps import CurrentTenant, Db
from core.controlplane import employees
from schemas.column_types import EARLIEST_TIME, LATEST_TIME

router = APIRouter(prefix="/v1/reports", tags=["reports"])

Limit = Annotated[int, Query(ge=1, le=1000)]
Cursor = Annotated[str | None, Query()]


# working-hours cursors hold a day ordinal
DAY_ORDINALS = (EARLIEST_TIME.date().toordinal(), LATEST_TIME.date().toordinal())


def page_of(limit: int, cursor: str | None, sort_values: tuple[int, int] = SORT_VALUES) -> q.Page:
    return q.Page(limit=limit, after=decode_cursor(cursor, sort_values) if cursor else None)


def listing(
    rng: Range, result: tuple[list[dict[str, Any]], tuple[int, str] | None]
) -> dict[str, Any]:
    items, after = result
    return {
        "range": rng.as_json(),
        "items": items,
        "next_cursor": encode_cursor(*after) if after else None,
    }


@router.get("/summary")
async def summary(tenant: CurrentTenant, rng: Range, f: ReportFilter) -> dict[str, Any]:
    """Basic counts, longest call, never attended and not picked up clients, working time."""
    return {"range": rng.as_json(), **await run_in_threadpool(q.summary, tenant.clickhouse, f, rng)}


@router.get("/employees")
async def employee_report(
    tenant: CurrentTenant, db: Db, rng: Range, f: ReportFilter
) -> dict[str, Any]:
    """One row per employee (all of them, or those selected) with counts and working time;
    archived employees only for a range with calls of theirs."""
    query = sa.select(
        employees.c.id, employees.c.name, employees.c.team, employees.c.archived_at
    ).where(employees.c.company_id == tenant.company.id)
    if f.employee_ids:
        query = query.where(employees.c.id.in_(f.employee_ids))
    staff = [row._asdict() for row in db.execute(query.order_by(employees.c.name, employees.c.id))]
    rows = await run_in_threadpool(q.employee_rows, tenant.clickhouse, f, rng, staff)
    # an archived employee (who left) is listed for the ranges they worked in only
    archived = {e["id"] for e in staff if e["archived_at"] is not None}
    items = [
        row
        for row in rows
        if row["employee_id"] not in archived or row["total_calls"] or row["working_s"]
    ]
    return {"range": rng.as_json(), "items": items}


@router.get("/analytics")
async def analytics(
    tenant: CurrentTenant, rng: Range, f: ReportFilter, group_by: q.GroupBy = "day"
) -> dict[str, Any]:
    """The basic counts per bucket; day and hour series include empty buckets."""
    series = await run_in_threadpool(q.analytics, tenant.clickhouse, f, rng, group_by)
    return {"range": rng.as_json(), "group_by": group_by, "series": series}


@router.get("/never-attended")
async def never_attended(
    tenant: CurrentTenant,
    rng: Range,
    f: ReportFilter,
    callback_within_h: Annotated[int | None, Query(ge=1, le=720)] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """Clients with a missed/rejected call that nobody answered or called back (METRICS.md)."""
    page = page_of(limit, cursor)
    result = await run_in_threadpool(
        q.never_attended, tenant.clickhouse, f, rng, page, callback_within_h
    )
    return listing(rng, result)


@router.get("/not-picked-up")
async def not_picked_up(
    tenant: CurrentTenant, rng: Range, f: ReportFilter, limit: Limit = 100, cursor: Cursor = None
) -> dict[str, Any]:
    """Clients who did not pick up an outgoing call and were never connected afterwards."""
    result = await run_in_threadpool(
        q.not_picked_up, tenant.clickhouse, f, rng, page_of(limit, cursor)
    )
    return listing(rng, result)


@router.get("/customers")
async def customers(
    tenant: CurrentTenant, rng: Range, f: ReportFilter, limit: Limit = 100, cursor: Cursor = None
) -> dict[str, Any]:
    """Every client with at least one call in range, most recent first."""
    result = await run_in_threadpool(q.customers, tenant.clickhouse, f, rng, page_of(limit, cursor))
    return listing(rng, result)


@router.get("/working-hours")
async def working_hours(
    tenant: CurrentTenant, rng: Range, f: ReportFilter, limit: Limit = 100, cursor: Cursor = None
) -> dict[str, Any]:
    """Per employee and local day: first and last activity, working and talk time (a page of
    them, by day); team totals over the whole range."""
    result = await run_in_threadpool(
        q.working_days, tenant.clickhouse, f, rng, page_of(limit, cursor, DAY_ORDINALS)
    )
    team = await run_in_threadpool(q.team_totals, tenant.clickhouse, f, rng)
    return {**listing(rng, result), "team": team}
