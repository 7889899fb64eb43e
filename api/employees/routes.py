"""Employee routes: HTTP in, api/employees/service.py, HTTP out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.deps import CurrentTenant, Db
from api.employees import service
from api.employees.service import (
    Employee,
    EmployeeCreate,
    EmployeeList,
    EmployeeUpdate,
    EnrollmentCode,
)
from api.flags import Flag
from core.clock import utc_now
from core.errors import error_responses

router = APIRouter(
    prefix="/v1/employees", tags=["employees"], responses=error_responses(401, 403, 404, 422)
)


@router.post("", status_code=201, response_model=Employee)
def create_employee(body: EmployeeCreate, tenant: CurrentTenant, db: Db) -> Employee:
    return service.create_employee(db, tenant.company.id, body, utc_now())


@router.get("", response_model=EmployeeList)
def list_employees(
    tenant: CurrentTenant,
    db: Db,
    archived: Annotated[Flag, Query(description="include archived employees")] = False,
) -> EmployeeList:
    return EmployeeList(
        items=service.list_employees(db, tenant.company.id, archived, tenant.employee_ids)
    )


@router.get("/{employee_id}", response_model=Employee)
def get_employee(employee_id: str, tenant: CurrentTenant, db: Db) -> Employee:
    return service.find_employee(db, tenant.company.id, employee_id, tenant.employee_ids)


@router.patch("/{employee_id}", response_model=Employee)
def update_employee(
    employee_id: str, body: EmployeeUpdate, tenant: CurrentTenant, db: Db
) -> Employee:
    return service.update_employee(db, tenant.company.id, employee_id, body, tenant.employee_ids)


@router.delete("/{employee_id}", status_code=204, response_class=Response)
def archive_employee(employee_id: str, tenant: CurrentTenant, db: Db) -> Response:
    """An employee who left: archived, their devices and unused codes revoked, history kept."""
    service.archive_employee(db, tenant.company.id, employee_id, utc_now(), tenant.employee_ids)
    return Response(status_code=204)


@router.post("/{employee_id}/enrollment-codes", status_code=201, response_model=EnrollmentCode)
def create_enrollment_code(employee_id: str, tenant: CurrentTenant, db: Db) -> EnrollmentCode:
    """A single-use code (24 h) that enrols one phone for the employee."""
    return service.issue_enrollment_code(
        db, tenant.company.id, employee_id, utc_now(), tenant.employee_ids
    )
