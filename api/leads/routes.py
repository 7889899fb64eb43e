"""Lead routes (plan basic_lead): HTTP in, api/leads/service.py and api/leads/store.py, HTTP out;
phones whose call list changed get `{"action": "leads"}` after the response."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, BackgroundTasks, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from api.context import ApiContext
from api.deps import Audit, Context, CurrentTenant, Db
from api.downloads import DOWNLOADABLE, Downloads
from api.employees.service import report_staff
from api.flags import Flag
from api.leads import service
from api.leads.custom import MAX_FIELDS, FieldList, FieldSpec, declare, declared, drop
from api.leads.models import (
    MAX_IMPORT_ROWS,
    Assign,
    ImportResult,
    LeadCreate,
    LeadDetail,
    LeadPage,
    LeadStatus,
    LeadUpdate,
    NumbersRequest,
    OnDuplicate,
)
from api.leads.report import lead_client_calls, leads_rows
from api.leads.rows import column_name, csv_rows, json_rows
from api.leads.store import (
    WriteOptions,
    Written,
    delete_lead,
    drop_field,
    update_lead,
    write_leads,
)
from api.reports import models as m
from api.reports.filters import Range, ReportFilter, known_employees
from api.tenancy import Tenant, company_keys
from core.clock import utc_now
from core.devices.health import push_to_employees
from core.devices.push import LEADS_DATA
from core.errors import ApiError, NotFound, error_responses
from core.paging import page_request
from core.request_body import parse_json, read_body

router = APIRouter(tags=["leads"], responses=error_responses(401, 402, 403, 422))


def leads_tenant(tenant: CurrentTenant) -> Tenant:
    """The caller, on a plan with leads (else 402)."""
    return service.leads_enabled(tenant)


LeadsTenant = Annotated[Tenant, Depends(leads_tenant)]
MAX_IMPORT_BYTES = 16 * 1024 * 1024
NUMBERS_BODY_LIMIT = 1024 * 1024  # 10,000 numbers of up to 64 characters, as JSON
IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "array",
                    "maxItems": MAX_IMPORT_ROWS,
                    "items": {"$ref": "#/components/schemas/LeadFields"},
                }
            },
            "text/csv": {"schema": {"type": "string", "description": "a header row, then leads"}},
        },
    }
}
AssignQuery = Annotated[Assign, Query(description="who gets leads without an employee_id")]
TeamQuery = Annotated[
    str | None,
    Query(max_length=200, description="assign among this team's employees (GET /v1/teams)"),
]


def push_leads(context: ApiContext, tenant: Tenant, employees: Iterable[str]) -> None:
    push_to_employees(
        context.engine, context.pusher, tenant.company.id, employees, LEADS_DATA, utc_now()
    )


def write(
    context: ApiContext,
    tenant: Tenant,
    rows: Iterable[tuple[int, Any]],
    options: WriteOptions,
    background: BackgroundTasks,
    dry_run: bool = False,
) -> Written:
    with service.lead_transaction(context, tenant, utc_now(), keep=not dry_run) as writer:
        written = write_leads(writer, tenant.clickhouse, rows, options)
    written.result.dry_run = dry_run
    if not dry_run:
        background.add_task(push_leads, context, tenant, written.employees)
    return written


def custom_columns(context: ApiContext, tenant: Tenant) -> dict[str, str]:
    """The CSV column names of the company's own fields: each one's key and label."""
    with context.engine.connect() as db:
        specs = declared(db, tenant.company.id)
    return {
        column_name(name): spec.key for spec in specs.values() for name in (spec.label, spec.key)
    }


@router.get("/v1/lead-fields", response_model=FieldList)
def list_lead_fields(tenant: LeadsTenant, db: Db) -> FieldList:
    """The company's own lead fields, in the order they were declared."""
    return FieldList(items=list(declared(db, tenant.company.id).values()))


@router.post(
    "/v1/lead-fields", status_code=201, response_model=FieldSpec, responses=error_responses(409)
)
def declare_lead_field(body: FieldSpec, tenant: LeadsTenant, db: Db, audit: Audit) -> FieldSpec:
    """A field every lead of the company may hold (admin): text, number, date or a choice."""
    if not declare(db, tenant.company.id, body, utc_now()):
        raise ApiError(
            409,
            "field_taken",
            f"the key {body.key} is declared already, or the company has {MAX_FIELDS} fields",
            [("key", "taken")],
        )
    audit("lead_field.declared", body.key, {"kind": body.kind})
    return body


@router.delete(
    "/v1/lead-fields/{key}",
    status_code=204,
    response_class=Response,
    responses=error_responses(404),
)
def delete_lead_field(
    key: str, tenant: LeadsTenant, context: Context, audit: Audit, background: BackgroundTasks
) -> Response:
    """The field goes, and every lead's value of it (admin): each such lead is a change."""
    every_team = replace(tenant, employee_ids=None)  # a company-wide field, whoever deletes it
    with service.lead_transaction(context, every_team, utc_now()) as writer:
        if not drop(writer.conn, tenant.company.id, key):
            raise NotFound("not_found", f"no lead field {key}")
        cleared = drop_field(writer, key)
        employees = writer.feed.employees
    audit("lead_field.deleted", key, {"leads": cleared})
    background.add_task(push_leads, context, tenant, employees)
    return Response(status_code=204)


def refuse_invalid(written: Written) -> None:
    """A single lead's row errors as the API's 422, each naming its field."""
    if written.result.errors:
        (row,) = written.result.errors
        fields = [(error.path, error.message) for error in row.errors]
        raise ApiError(422, "invalid_request", "the lead is invalid", fields)


@router.post(
    "/v1/leads", status_code=201, response_model=LeadDetail, responses=error_responses(409)
)
def create_lead(
    body: LeadCreate,
    tenant: LeadsTenant,
    context: Context,
    background: BackgroundTasks,
    assign: AssignQuery = Assign.round_robin,
    team: TeamQuery = None,
) -> LeadDetail:
    """One lead; a number that is another lead's already is a 409 naming that lead."""
    written = write(
        context,
        tenant,
        [(1, body.model_dump(exclude_unset=True))],
        WriteOptions(assign, team=team),
        background,
    )
    refuse_invalid(written)
    if not written.created:
        lead_id = written.duplicate_of[1]
        raise ApiError(
            409,
            "duplicate_lead",
            f"lead {lead_id} has this number already",
            [("primary_number", f"the number of lead {lead_id}")],
        )
    return service.read_lead(context, tenant, written.created[0], utc_now())


@router.put(
    "/v1/leads/by-number/{number}",
    response_model=LeadDetail,
    responses={201: {"model": LeadDetail, "description": "created"}, **error_responses(409)},
)
def put_lead_by_number(
    number: Annotated[str, Path(max_length=64, description="the lead's number, any format")],
    body: LeadUpdate,
    tenant: LeadsTenant,
    context: Context,
    background: BackgroundTasks,
    response: Response,
    assign: AssignQuery = Assign.round_robin,
    team: TeamQuery = None,
) -> LeadDetail:
    """Find or create (Zapier's "Find or Create Lead", "Update Lead"): the lead with this
    number is updated with the fields given (200); without one, a lead is created with them
    (201). Under the company's lead lock, so the same call made twice, even at once, makes one
    lead."""
    if "primary_number" in body.model_fields_set:
        raise ApiError(
            422,
            "invalid_request",
            "the number is the path's",
            [("primary_number", "give it in the path, not the body")],
        )
    fields = body.model_dump(exclude_unset=True) | {"primary_number": number}
    options = WriteOptions(assign, OnDuplicate.update, team=team)
    written = write(context, tenant, [(1, fields)], options, background)
    refuse_invalid(written)
    if written.created:
        response.status_code = 201
        return service.read_lead(context, tenant, written.created[0], utc_now())
    return service.read_lead(context, tenant, written.duplicate_of[1], utc_now())


@router.post(
    "/v1/leads/import",
    max_body_size=MAX_IMPORT_BYTES,
    response_model=ImportResult,
    responses=error_responses(413, 415),
    openapi_extra=IMPORT_BODY,
)
async def import_leads(
    request: Request,
    tenant: LeadsTenant,
    context: Context,
    background: BackgroundTasks,
    dry_run: Annotated[Flag, Query(description="validate and count, write nothing")] = False,
    on_duplicate: Annotated[
        OnDuplicate, Query(description="a row whose number is a lead's already")
    ] = OnDuplicate.skip,
    assign: AssignQuery = Assign.round_robin,
    employee_id: Annotated[
        str | None, Query(max_length=320, description="every row's employee (id or email)")
    ] = None,
    team: TeamQuery = None,
) -> ImportResult:
    """Leads from a JSON array or a CSV file (`text/csv`; UTF-8 with or without BOM; comma,
    semicolon or tab; column names case-insensitive with the usual aliases). Every row is
    created, updated, skipped or reported with its errors."""
    media = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    raw = await read_body(request, MAX_IMPORT_BYTES)
    if media in ("text/csv", "application/csv", "text/plain"):
        columns = await run_in_threadpool(custom_columns, context, tenant)
        rows: Iterable[tuple[int, Any]] = list(csv_rows(raw, columns))
    elif media == "application/json":
        rows = list(json_rows(parse_json(raw)))
    else:
        raise ApiError(415, "unsupported_media_type", f"{media}: send application/json or text/csv")
    options = WriteOptions(assign, on_duplicate, employee_id, team=team)
    written = await run_in_threadpool(write, context, tenant, rows, options, background, dry_run)
    return written.result


@router.post("/v1/numbers", response_model=ImportResult, max_body_size=NUMBERS_BODY_LIMIT)
async def add_numbers(
    body: NumbersRequest, tenant: LeadsTenant, context: Context, background: BackgroundTasks
) -> ImportResult:
    """Bare numbers to call: each becomes a lead with only its number (row = position)."""
    rows = [(index, {"primary_number": n}) for index, n in enumerate(body.numbers, start=1)]
    options = WriteOptions(body.assign, OnDuplicate.skip, body.employee_id, body.country, body.team)
    written = await run_in_threadpool(write, context, tenant, rows, options, background)
    return written.result


@router.get("/v1/leads", response_model=LeadPage, responses=DOWNLOADABLE)
async def list_leads(
    tenant: LeadsTenant,
    context: Context,
    db: Db,
    download: Downloads,
    employee_id: Annotated[list[str] | None, Query(description="repeatable")] = None,
    status: Annotated[LeadStatus | None, Query(description="from the lead's calls")] = None,
    number: Annotated[str | None, Query(max_length=64, description="any format")] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="in first/last name, company, email")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
) -> Any:
    """Leads, newest first."""
    query = service.LeadQuery(
        employee_ids=known_employees(db, tenant, employee_id) if employee_id else (),
        status=status,
        number=number,
        q=q,
    )
    page = page_request(limit, cursor, service.CURSOR_VALUES)
    keys = company_keys(tenant.company, context.master_key)
    found = await run_in_threadpool(service.list_leads, db, tenant, keys, query, page)
    return download(found, LeadPage, "leads", ZoneInfo(tenant.company.timezone))


@router.get("/v1/leads/{lead_id}", response_model=LeadDetail, responses=error_responses(404))
async def get_lead(lead_id: str, tenant: LeadsTenant, context: Context, db: Db) -> LeadDetail:
    """One lead with its latest calls, newest first."""
    keys = company_keys(tenant.company, context.master_key)
    return await run_in_threadpool(service.get_lead, db, tenant, keys, lead_id, utc_now())


@router.patch("/v1/leads/{lead_id}", response_model=LeadDetail, responses=error_responses(404, 409))
def patch_lead(
    lead_id: str,
    body: LeadUpdate,
    tenant: LeadsTenant,
    context: Context,
    background: BackgroundTasks,
) -> LeadDetail:
    """The given fields change (null clears); `employee_id` re-assigns."""
    with service.lead_transaction(context, tenant, utc_now()) as writer:
        update_lead(writer, lead_id, body)
        employees = writer.feed.employees
    background.add_task(push_leads, context, tenant, employees)
    return service.read_lead(context, tenant, lead_id, utc_now())


@router.delete(
    "/v1/leads/{lead_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(404),
)
def remove_lead(
    lead_id: str, tenant: LeadsTenant, context: Context, background: BackgroundTasks
) -> Response:
    """The lead and its numbers go; its calls stay (without lead_id)."""
    with service.lead_transaction(context, tenant, utc_now()) as writer:
        delete_lead(writer, lead_id)
        employees = writer.feed.employees
    background.add_task(push_leads, context, tenant, employees)
    return Response(status_code=204)


@router.get(
    "/v1/reports/leads", response_model=m.LeadsReport, tags=["reports"], responses=DOWNLOADABLE
)
async def leads_report(
    tenant: LeadsTenant, db: Db, rng: Range, f: ReportFilter, download: Downloads
) -> Any:
    """Per employee: the leads assigned to them, by status as of the range end, and the calls
    in range with those leads' numbers."""
    staff = report_staff(db, tenant.company.id, f.employee_ids)
    assigned = service.assigned_numbers(db, tenant.company.id, [e["id"] for e in staff])
    calls = await run_in_threadpool(lead_client_calls, tenant.clickhouse, f)
    shown = [e for e in staff if e["archived_at"] is None or assigned.get(e["id"])]
    answer = {"range": rng.as_json(), "items": leads_rows(shown, assigned, calls)}
    return download(answer, m.LeadsReport, "leads", rng.zone)
