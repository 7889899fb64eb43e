"""Call history routes: HTTP in, api/calls/history.py, HTTP out."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from api.calls.history import CallPage, after_cursor, call_page, number_filter
from api.deps import Audit, Context, CurrentTenant, Db
from api.downloads import DOWNLOADABLE, Downloads
from api.reports.filters import known_employees, parse_types, report_range, report_zone
from api.reveal import RevealQuery, reveal_keys
from api.tenancy import company_keys
from core.clock import utc_now
from core.errors import error_responses
from core.paging import page_request
from core.reports.filters import CallFilter

router = APIRouter(prefix="/v1/calls", tags=["calls"], responses=error_responses(401, 422))


@router.get("", response_model=CallPage, responses=DOWNLOADABLE)
async def list_calls(
    tenant: CurrentTenant,
    context: Context,
    db: Db,
    audit: Audit,
    download: Downloads,
    from_: Annotated[
        str | None, Query(alias="from", description="a local date or an RFC 3339 instant")
    ] = None,
    to: Annotated[str | None, Query(description="a local date (inclusive) or an instant")] = None,
    tz: Annotated[str | None, Query(description="IANA zone of the range and of every time")] = None,
    employee_id: Annotated[list[str] | None, Query(description="repeatable")] = None,
    type: Annotated[list[str] | None, Query(description="call types, repeatable")] = None,
    number: Annotated[
        str | None, Query(max_length=64, description="a client's number, any format")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="items per page")] = 100,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
    reveal: RevealQuery = False,
) -> Any:
    """The call history, newest first. Without `from`/`to`, all of it."""
    revealed = reveal_keys(tenant, context, reveal)
    zone = report_zone(tenant, tz)  # of the times answered, with or without a range
    page = page_request(limit, cursor)
    extra, params = after_cursor(page)
    # the company key only when a number is matched or shown (not on every history page)
    matched = number is not None and revealed is None
    keys = company_keys(tenant.company, context.master_key) if matched else revealed
    if number is not None and keys is not None:
        term, client_key = number_filter(number, tenant.company, keys)
        extra, params = (*extra, term), (*params, ("client_key", client_key))
    call_filter = CallFilter(
        range=report_range(tenant, from_, to, tz) if (from_ or to) else None,
        employee_ids=known_employees(db, tenant, employee_id),
        types=parse_types(type or []),
        extra=extra,
        extra_params=params,
    )
    answer = await run_in_threadpool(
        call_page,
        tenant.clickhouse,
        db,
        tenant.company.id,
        call_filter,
        page,
        zone,
        int(utc_now().timestamp()),
        revealed,  # with a number filter only, keys serve the match
        tenant.company.has_leads,  # lead_id: null on a plan without leads
    )
    if reveal:  # which filter and how many, never a number
        asked = {"from": from_, "to": to, "tz": tz, "employee_id": employee_id, "type": type}
        details = {
            "count": sum(1 for item in answer.items if item.number),
            "filter": {name: value for name, value in asked.items() if value},
            "by_number": number is not None,
        }
        audit("numbers.revealed", "/v1/calls", details)
    return download(answer, CallPage, "calls", zone)
