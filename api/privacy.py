"""Privacy routes: the audit log (admin, owner). HTTP in, api/audit.py, HTTP out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.audit import AuditPage, entries
from api.deps import CurrentTenant, Db
from api.paging import next_cursor, page_request
from core.errors import error_responses

router = APIRouter(tags=["privacy"], responses=error_responses(401, 403, 422))


@router.get("/v1/audit", response_model=AuditPage)
def audit_log(
    tenant: CurrentTenant,
    db: Db,
    limit: Annotated[int, Query(ge=1, le=1000, description="items per page")] = 100,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
) -> AuditPage:
    """Who did what, newest first: numbers revealed, keys, users and roles, failed logins.
    Append-only: no route changes or deletes an entry."""
    items, after = entries(db, tenant.company.id, page_request(limit, cursor))
    return AuditPage(items=items, next_cursor=next_cursor(after))
