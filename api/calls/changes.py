"""The calls' change feed (API.md "Change feeds"): HTTP in, core/calls/changes.py, HTTP out."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from pydantic_core import to_json
from sqlalchemy.engine import Connection

from api.deps import Audit, Context, CurrentTenant, Db
from api.reports.filters import report_zone
from api.reveal import RevealQuery, reveal_keys
from api.tenancy import Tenant
from core.calls.changes import Position, change_page, settled_horizon
from core.calls.items import CallItem, call_labels, item_fields
from core.errors import Invalid, error_responses
from core.leads.lookup import lead_holders
from core.number_crypto import CompanyKeys
from core.paging import Page, encode_cursor, page_request

router = APIRouter(prefix="/v1/changes", tags=["changes"], responses=error_responses(401, 403, 422))
# before the company's first change: the clocks of the control plane and ClickHouse may differ
START_SLACK = timedelta(days=1)
ChangeLimit = Annotated[int, Query(ge=1, le=1000, description="items per page")]
ChangeCursor = Annotated[
    str | None, Query(description="`next_cursor` of the previous page; none: from the start")
]


class ChangedCall(CallItem):
    version: int = Field(description="grows with every change of the call; apply the highest")


class CallUpsert(BaseModel):
    op: Literal["upsert"] = "upsert"
    call: ChangedCall


class CallDelete(BaseModel):
    op: Literal["delete"] = "delete"
    id: str = Field(description="the erased call's id (its number is gone)")


class CallChanges(BaseModel):
    items: list[Annotated[CallUpsert | CallDelete, Field(discriminator="op")]]
    next_cursor: str = Field(description="pass as `cursor` for the next page (also when empty)")


def start_position(tenant: Tenant, cursor: str | None, limit: int) -> tuple[Page, Position]:
    page = page_request(limit, cursor)
    if page.after is not None:
        try:
            return page, Position.of(page.after)
        except ValueError as exc:
            raise Invalid(
                "invalid_request",
                "the cursor is not one this API returned",
                [("cursor", "invalid")],
            ) from exc
    return page, Position(oldest_change(tenant))


def oldest_change(tenant: Tenant) -> int:
    """No change of the company is older than this (Unix seconds)."""
    created = tenant.company.created_at
    return int((created - START_SLACK).timestamp()) if created else 0


def call_items(
    tenant: Tenant,
    db: Connection,
    rows: list[dict[str, Any]],
    zone: ZoneInfo,
    reveal: CompanyKeys | None,
) -> list[dict[str, Any]]:
    """Feed rows of calls (no tombstones) as the history shows them, each with its version:
    `ChangedCall`'s fields, built here from stored rows and so not validated again."""
    labels = call_labels(db, tenant.company.id)
    holders = (
        lead_holders(db, tenant.company.id, [row["client_key"] for row in rows])
        if tenant.company.has_leads
        else {}
    )
    items = []
    for row in rows:
        item = item_fields(row, labels, zone, reveal)
        item["lead_id"] = holders.get(row["client_key"])
        item["version"] = row["version"]
        items.append(item)
    return items


def changed_calls(
    tenant: Tenant,
    db: Connection,
    page: Page,
    start: Position,
    settle_s: int,
    zone: ZoneInfo,
    reveal: CompanyKeys | None,
) -> dict[str, Any]:
    """A page of `CallChanges`, as plain data: a page holds up to 1,000 calls, and building
    and validating a model of each cost three times the JSON (BENCHMARKS.md "Change feed")."""
    horizon = settled_horizon(tenant.clickhouse.clickhouse, settle_s)
    found = change_page(tenant.clickhouse, page, start, horizon)  # positions: the stored rows'
    calls = iter(call_items(tenant, db, [r for r in found.rows if not r["deleted"]], zone, reveal))
    items = [
        {"op": "delete", "id": row["call_id"]}
        if row["deleted"]
        else {"op": "upsert", "call": next(calls)}
        for row in found.rows
    ]
    after = found.after
    return {"items": items, "next_cursor": encode_cursor(after.changed_ts, after.key())}


@router.get("/calls", response_model=CallChanges)
async def call_changes(
    tenant: CurrentTenant,
    context: Context,
    db: Db,
    audit: Audit,
    cursor: ChangeCursor = None,
    limit: ChangeLimit = 100,
    tz: Annotated[str | None, Query(description="IANA zone of every time")] = None,
    reveal: RevealQuery = False,
) -> Any:
    """The company's calls as the server stored them, oldest first: each new, re-sent or
    corrected call (`upsert`, at its `version`) and each erased one (`delete`)."""
    revealed = reveal_keys(tenant, context, reveal)
    page, start = start_position(tenant, cursor, limit)
    answer = await run_in_threadpool(
        changed_calls,
        tenant,
        db,
        page,
        start,
        context.settings.change_feed_settle_s,
        report_zone(tenant, tz),
        revealed,
    )
    if reveal:
        count = sum(
            1 for item in answer["items"] if item["op"] == "upsert" and item["call"]["number"]
        )
        audit("numbers.revealed", "/v1/changes/calls", {"count": count})
    return Response(to_json(answer), media_type="application/json")
