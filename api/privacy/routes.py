"""Privacy routes (API.md "Privacy"): erasures, exports and the audit log. HTTP in,
api/privacy/service.py, HTTP out."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, BackgroundTasks, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse

from api.audit.log import AuditFilter, AuditPage, entries
from api.deps import Audit, Context, CurrentTenant, Db
from api.downloads import DOWNLOADABLE, Downloads
from api.leads.routes import push_leads
from api.privacy import service
from api.privacy.service import ErasureRequest, ErasureView, ExportView, NumberExport
from api.reports.filters import report_range
from core.clock import utc_now
from core.errors import error_responses
from core.paging import next_cursor, page_request

router = APIRouter(tags=["privacy"], responses=error_responses(401, 402, 403, 422))


@router.get("/v1/audit", response_model=AuditPage, responses=DOWNLOADABLE)
def audit_log(
    tenant: CurrentTenant,
    db: Db,
    download: Downloads,
    limit: Annotated[int, Query(ge=1, le=1000, description="items per page")] = 100,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
    action: Annotated[
        str | None, Query(max_length=40, description="one action, or a prefix ending in `.`")
    ] = None,
    actor_id: Annotated[str | None, Query(max_length=36, description="a user or key id")] = None,
    from_: Annotated[
        str | None, Query(alias="from", description="a local date (company zone) or RFC 3339")
    ] = None,
    to: Annotated[str | None, Query(description="a local date (inclusive) or RFC 3339")] = None,
) -> Any:
    """Who did what, newest first: numbers revealed, exports, erasures, keys, users and roles,
    subscription changes, failed logins. Append-only: no route changes or deletes an entry."""
    only = AuditFilter(action=action, actor_id=actor_id)
    if from_ or to:
        span = report_range(tenant, from_, to, None)
        only = replace(only, since=span.start, until=span.end)
    items, after = entries(db, tenant.company.id, page_request(limit, cursor), only)
    answer = AuditPage(items=items, next_cursor=next_cursor(after))
    return download(answer, AuditPage, "audit", ZoneInfo(tenant.company.timezone))


@router.post("/v1/privacy/erasures", status_code=202, response_model=ErasureView)
def erase_number(
    body: ErasureRequest,
    tenant: CurrentTenant,
    context: Context,
    audit: Audit,
    background: BackgroundTasks,
) -> ErasureView:
    """From this answer on no report, list, trigger, webhook or export shows the number; the
    worker then deletes every stored row holding it (`status` turns `done`, with counts)."""
    erasure, told = service.erase_number(context, tenant, body, utc_now())
    audit("erasure.requested", erasure.id, {"kind": "number", "suppress": body.suppress})
    background.add_task(push_leads, context, tenant, told)
    return service.erasure_view(erasure)


@router.get(
    "/v1/privacy/erasures/{erasure_id}",
    response_model=ErasureView,
    responses=error_responses(404),
)
def get_erasure(erasure_id: str, tenant: CurrentTenant, db: Db) -> ErasureView:
    return service.erasure_view(service.get_erasure(db, tenant.company.id, erasure_id))


@router.post(
    "/v1/employees/{employee_id}/erasure",
    status_code=202,
    response_model=ErasureView,
    responses=error_responses(404),
    tags=["employees"],
)
def erase_employee(employee_id: str, tenant: CurrentTenant, db: Db, audit: Audit) -> ErasureView:
    """An employee's consent withdrawn: tracking off, their devices' tokens revoked, and every
    call, status, location and contact their devices sent erased."""
    erasure = service.erase_employee(db, tenant, employee_id, utc_now())
    audit("erasure.requested", erasure.id, {"kind": "employee", "employee_id": employee_id})
    return service.erasure_view(erasure)


@router.get("/v1/privacy/export", response_model=NumberExport)
async def export_number(
    tenant: CurrentTenant,
    context: Context,
    db: Db,
    audit: Audit,
    number: Annotated[str, Query(min_length=1, max_length=64, description="any format")],
) -> NumberExport:
    """Every call, contact and lead with this number, numbers in E.164 (audited)."""
    found = await run_in_threadpool(service.export_number, context, db, tenant, number)
    counts = {"calls": len(found.calls), "contacts": len(found.contacts), "leads": len(found.leads)}
    audit("numbers.exported", "/v1/privacy/export", counts)
    return found


@router.post("/v1/privacy/exports", status_code=202, response_model=ExportView)
def request_export(tenant: CurrentTenant, db: Db, audit: Audit) -> ExportView:
    """The whole company as a zip of CSV files, written by the worker; poll its status."""
    found = service.request_export(db, tenant.company.id, utc_now())
    audit("export.requested", found.id)
    return found


@router.get(
    "/v1/privacy/exports/{export_id}", response_model=ExportView, responses=error_responses(404)
)
def get_export(export_id: str, tenant: CurrentTenant, db: Db) -> ExportView:
    return service.get_export(db, tenant.company.id, export_id, utc_now())


@router.get(
    "/v1/privacy/exports/{export_id}/download",
    response_class=FileResponse,
    responses={
        200: {"content": {"application/zip": {}}, "description": "the archive, streamed"},
        **error_responses(404, 409),
    },
)
def download_export(export_id: str, tenant: CurrentTenant, db: Db, audit: Audit) -> FileResponse:
    """calls.csv, contacts.csv, leads.csv, employees.csv, devices.csv, device_status.csv;
    numbers in E.164. Available for 7 days."""
    path = service.export_file(db, tenant.company.id, export_id, utc_now())
    audit("export.downloaded", export_id)
    return FileResponse(path, media_type="application/zip", filename=f"closecall-{export_id}.zip")
