"""Employees and enrollment codes: the control-plane logic behind api/employees/routes.py, as plain
functions of a connection and the caller's company."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from pydantic import BaseModel, EmailStr, Field, StrictBool
from sqlalchemy.engine import Connection

from core.controlplane import device_tokens, devices, employees, enrollment_codes, users
from core.errors import Forbidden, NotFound
from core.number_crypto import CompanyKeys, decrypt_secret, encrypt_secret
from core.qr import qr_png
from core.tokens import digest, new_enrollment_code, normalise_enrollment_code

ENROLLMENT_CODE_TTL = timedelta(hours=24)


class EmployeeCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    phone: str | None = Field(default=None, max_length=64)
    email: EmailStr | None = None
    team: str | None = Field(default=None, max_length=200)


class EmployeeUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    phone: str | None = Field(default=None, max_length=64)
    email: EmailStr | None = None
    team: str | None = Field(default=None, max_length=200)
    tracking_enabled: StrictBool | None = None
    takes_leads: StrictBool | None = Field(
        default=None, description="false: auto-assignment gives this employee no leads"
    )


class Employee(BaseModel):
    id: str
    name: str
    phone: str | None
    email: str | None
    team: str | None
    tracking_enabled: bool
    takes_leads: bool = Field(description="auto-assignment may give this employee leads")
    created_at: datetime
    archived_at: datetime | None = Field(
        default=None, description="set when the employee left (DELETE); their history stays"
    )


class EnrollmentCode(BaseModel):
    id: str
    code: str = Field(description="typed on the phone when it cannot scan; single use")
    employee_id: str
    expires_at: datetime
    enroll_uri: str = Field(description="closecall://enroll?server=<ingest URL>&code=<code>")
    qr_png_url: str = Field(description="a PNG QR code of enroll_uri (same roles; no code in it)")


class TeamRename(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    new_name: str = Field(min_length=1, max_length=200)


class TeamRenamed(BaseModel):
    employees: int = Field(description="employees moved to the new name")
    users: int = Field(description="users whose team limits now name it")


class Team(BaseModel):
    name: str
    employees: int = Field(description="employees of the team, archived ones not counted")


class TeamList(BaseModel):
    items: list[Team] = Field(description="by name")


class EmployeeList(BaseModel):
    items: list[Employee]


Scope = tuple[str, ...] | None  # the employees a team-limited caller sees; None: all


def in_scope(query: sa.Select[Any], only: Scope) -> sa.Select[Any]:
    return query if only is None else query.where(employees.c.id.in_(only))


def find_employee(
    db: Connection, company_id: str, employee_id: str, only: Scope = None
) -> Employee:
    query = sa.select(employees).where(
        employees.c.id == employee_id, employees.c.company_id == company_id
    )
    row = db.execute(in_scope(query, only)).first()
    if row is None:
        raise NotFound("not_found", f"no employee {employee_id}")
    return Employee.model_validate(row._asdict())


def create_employee(
    db: Connection, company_id: str, body: EmployeeCreate, now: datetime
) -> Employee:
    employee = Employee(
        id=str(uuid.uuid4()),
        tracking_enabled=True,
        takes_leads=True,
        created_at=now,
        **body.model_dump(),
    )
    db.execute(employees.insert().values(company_id=company_id, **employee.model_dump()))
    return employee


def list_employees(
    db: Connection, company_id: str, archived: bool, only: Scope = None
) -> list[Employee]:
    query = in_scope(sa.select(employees).where(employees.c.company_id == company_id), only)
    if not archived:
        query = query.where(employees.c.archived_at.is_(None))
    rows = db.execute(query.order_by(employees.c.created_at, employees.c.id))
    return [Employee.model_validate(row._asdict()) for row in rows]


def report_staff(
    db: Connection, company_id: str, employee_ids: Sequence[str]
) -> list[dict[str, Any]]:
    """The employees a report lists (all, or the selected), by name."""
    query = sa.select(
        employees.c.id, employees.c.name, employees.c.team, employees.c.archived_at
    ).where(employees.c.company_id == company_id)
    if employee_ids:
        query = query.where(employees.c.id.in_(employee_ids))
    return [row._asdict() for row in db.execute(query.order_by(employees.c.name, employees.c.id))]


def update_employee(
    db: Connection, company_id: str, employee_id: str, body: EmployeeUpdate, only: Scope = None
) -> Employee:
    find_employee(db, company_id, employee_id, only)
    changes = body.model_dump(exclude_unset=True)
    for required in ("name", "tracking_enabled", "takes_leads"):  # never null
        if changes.get(required) is None:
            changes.pop(required, None)
    if changes:
        db.execute(
            employees.update()
            .where(employees.c.id == employee_id, employees.c.company_id == company_id)
            .values(**changes)
        )
    return find_employee(db, company_id, employee_id)


def archive_employee(
    db: Connection, company_id: str, employee_id: str, now: datetime, only: Scope = None
) -> None:
    """An employee who left: archived, their devices and unused codes revoked, history kept."""
    employee = find_employee(db, company_id, employee_id, only)
    if employee.archived_at is not None:
        return
    db.execute(employees.update().where(employees.c.id == employee_id).values(archived_at=now))
    db.execute(
        enrollment_codes.update()
        .where(enrollment_codes.c.employee_id == employee_id, enrollment_codes.c.used_at.is_(None))
        .values(used_at=now)
    )
    owned = sa.select(devices.c.id).where(
        devices.c.company_id == company_id, devices.c.employee_id == employee_id
    )
    revoke_devices(db, owned, now)


def revoke_devices(db: Connection, device_ids: sa.Select[tuple[str]], now: datetime) -> None:
    """Devices (a subquery of ids) revoked with every live token of theirs."""
    db.execute(
        devices.update()
        .where(devices.c.id.in_(device_ids), devices.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    db.execute(
        device_tokens.update()
        .where(device_tokens.c.device_id.in_(device_ids), device_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def issue_enrollment_code(
    db: Connection,
    company_id: str,
    employee_id: str,
    keys: CompanyKeys,
    ingest_url: str,
    now: datetime,
    only: Scope = None,
) -> EnrollmentCode:
    employee = find_employee(db, company_id, employee_id, only)
    if employee.archived_at is not None:
        raise Forbidden("employee_archived", "the employee is archived: no phone can enrol")
    if not employee.tracking_enabled:
        raise Forbidden(
            "tracking_disabled",
            "tracking is disabled for this employee: enable it (PATCH tracking_enabled) first",
        )
    code, code_id = new_enrollment_code(), str(uuid.uuid4())
    db.execute(
        enrollment_codes.insert().values(
            code_hash=digest(normalise_enrollment_code(code)),
            id=code_id,
            sealed_code=encrypt_secret(keys, code),
            company_id=company_id,
            employee_id=employee_id,
            created_at=now,
            expires_at=now + ENROLLMENT_CODE_TTL,
        )
    )
    return EnrollmentCode(
        id=code_id,
        code=code,
        employee_id=employee_id,
        expires_at=now + ENROLLMENT_CODE_TTL,
        enroll_uri=enroll_uri(ingest_url, code),
        qr_png_url=f"/v1/employees/{employee_id}/enrollment-codes/{code_id}/qr.png",
    )


def enroll_uri(ingest_url: str, code: str) -> str:
    """What the QR code says: the agent scans it and enrols at `server` with `code`."""
    return "closecall://enroll?" + urlencode({"server": ingest_url, "code": code})


def enrollment_qr(
    db: Connection,
    company_id: str,
    employee_id: str,
    code_id: str,
    keys: CompanyKeys,
    ingest_url: str,
    now: datetime,
    only: Scope = None,
) -> bytes:
    """The PNG QR code of an unused, unexpired enrolment code (404 otherwise)."""
    find_employee(db, company_id, employee_id, only)
    sealed = db.execute(
        sa.select(enrollment_codes.c.sealed_code).where(
            enrollment_codes.c.id == code_id,
            enrollment_codes.c.company_id == company_id,
            enrollment_codes.c.employee_id == employee_id,
            enrollment_codes.c.used_at.is_(None),
            enrollment_codes.c.expires_at > now,
            enrollment_codes.c.sealed_code.is_not(None),
        )
    ).scalar()
    if sealed is None:
        raise NotFound("not_found", "no such enrolment code, or it was used or has expired")
    return qr_png(enroll_uri(ingest_url, decrypt_secret(keys, sealed)))


def list_teams(db: Connection, company_id: str, only: Scope = None) -> list[Team]:
    """The teams of the company's employees (a team-limited caller: its own teams)."""
    query = (
        sa.select(employees.c.team, sa.func.count().label("n"))
        .where(
            employees.c.company_id == company_id,
            employees.c.team.is_not(None),
            employees.c.archived_at.is_(None),
        )
        .group_by(employees.c.team)
        .order_by(employees.c.team)
    )
    return [Team(name=row.team, employees=row.n) for row in db.execute(in_scope(query, only))]


def rename_team(db: Connection, company_id: str, body: TeamRename) -> TeamRenamed:
    """A team's new name, on its employees and in the team limits of the company's users."""
    moved = db.execute(
        employees.update()
        .where(employees.c.company_id == company_id, employees.c.team == body.name)
        .values(team=body.new_name)
    ).rowcount
    if not moved:
        raise NotFound("not_found", f"no employee is in the team {body.name!r}")
    limited = db.execute(
        sa.select(users.c.id, users.c.teams).where(users.c.company_id == company_id)
    ).all()
    renamed = 0
    for user_id, teams_json in limited:
        teams = json.loads(teams_json)
        if body.name in teams:
            teams = sorted({body.new_name if team == body.name else team for team in teams})
            db.execute(users.update().where(users.c.id == user_id).values(teams=json.dumps(teams)))
            renamed += 1
    return TeamRenamed(employees=moved, users=renamed)
