"""Employee routes: HTTP in, api/employees/service.py, HTTP out."""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Response

from api.deps import Audit, Context, CurrentTenant, Db
from api.downloads import DOWNLOADABLE, Downloads
from api.employees import service
from api.employees.service import (
    Employee,
    EmployeeCreate,
    EmployeeList,
    EmployeeUpdate,
    EnrollmentCode,
    TeamList,
    TeamRename,
    TeamRenamed,
)
from api.flags import Flag
from api.tenancy import company_keys
from core.clock import utc_now
from core.errors import error_responses

router = APIRouter(tags=["employees"], responses=error_responses(401, 403, 404, 422))


@router.post("/v1/employees", status_code=201, response_model=Employee)
def create_employee(body: EmployeeCreate, tenant: CurrentTenant, db: Db) -> Employee:
    return service.create_employee(db, tenant.company.id, body, utc_now())


@router.get("/v1/employees", response_model=EmployeeList, responses=DOWNLOADABLE)
def list_employees(
    tenant: CurrentTenant,
    db: Db,
    download: Downloads,
    archived: Annotated[Flag, Query(description="include archived employees")] = False,
) -> Any:
    found = service.list_employees(db, tenant.company.id, archived, tenant.employee_ids)
    answer = EmployeeList(items=found)
    return download(answer, EmployeeList, "employees", ZoneInfo(tenant.company.timezone))


@router.get("/v1/employees/{employee_id}", response_model=Employee)
def get_employee(employee_id: str, tenant: CurrentTenant, db: Db) -> Employee:
    return service.find_employee(db, tenant.company.id, employee_id, tenant.employee_ids)


@router.patch("/v1/employees/{employee_id}", response_model=Employee)
def update_employee(
    employee_id: str, body: EmployeeUpdate, tenant: CurrentTenant, db: Db
) -> Employee:
    return service.update_employee(db, tenant.company.id, employee_id, body, tenant.employee_ids)


@router.delete("/v1/employees/{employee_id}", status_code=204, response_class=Response)
def archive_employee(employee_id: str, tenant: CurrentTenant, db: Db) -> Response:
    """An employee who left: archived, their devices and unused codes revoked, history kept."""
    service.archive_employee(db, tenant.company.id, employee_id, utc_now(), tenant.employee_ids)
    return Response(status_code=204)


@router.post(
    "/v1/employees/{employee_id}/enrollment-codes", status_code=201, response_model=EnrollmentCode
)
def create_enrollment_code(
    employee_id: str, tenant: CurrentTenant, context: Context, db: Db
) -> EnrollmentCode:
    """A single-use code (24 h) that enrols one phone for the employee, with the URI its QR code
    holds and where to get that QR code."""
    return service.issue_enrollment_code(
        db,
        tenant.company.id,
        employee_id,
        company_keys(tenant.company, context.master_key),
        context.settings.ingest_public_url,
        utc_now(),
        tenant.employee_ids,
    )


@router.get(
    "/v1/employees/{employee_id}/enrollment-codes/{code_id}/qr.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "the QR code of enroll_uri"}},
)
def enrollment_code_qr(
    employee_id: str, code_id: str, tenant: CurrentTenant, context: Context, db: Db
) -> Response:
    """The QR code of an unused enrolment code, as a PNG (404 once used or expired)."""
    png = service.enrollment_qr(
        db,
        tenant.company.id,
        employee_id,
        code_id,
        company_keys(tenant.company, context.master_key),
        context.settings.ingest_public_url,
        utc_now(),
        tenant.employee_ids,
    )
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


@router.get("/v1/teams", response_model=TeamList)
def list_teams(tenant: CurrentTenant, db: Db) -> TeamList:
    """The teams employees are in, by name (a team-limited user: their own)."""
    return TeamList(items=service.list_teams(db, tenant.company.id, tenant.employee_ids))


@router.post("/v1/teams/rename", response_model=TeamRenamed)
def rename_team(body: TeamRename, tenant: CurrentTenant, db: Db, audit: Audit) -> TeamRenamed:
    """A team's new name, on its employees and in every user's team limits at once (admin: it
    changes what team-limited users see by name, never whom)."""
    renamed = service.rename_team(db, tenant.company.id, body)
    audit("team.renamed", body.name, {"new_name": body.new_name})
    return renamed
