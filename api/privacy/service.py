"""Privacy rights (API.md "Privacy"): erasing a client's number or an employee's data, the
export of one number and the company's archive; the logic behind api/privacy/routes.py. The
ClickHouse deletions and the archive are the worker's (streams/privacy/jobs.py,
streams/privacy/export.py)."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, Field, StrictBool
from sqlalchemy.engine import Connection

from api.calls.history import normalised_number, number_key
from api.context import ApiContext
from api.employees.service import find_employee, revoke_devices
from api.leads.service import lead_transaction
from api.leads.store import delete_lead
from api.tenancy import Tenant, company_keys
from core.company_clickhouse import as_uuid
from core.controlplane import devices, employees, exports, followups, lead_numbers
from core.errors import Conflict, NotFound
from core.hooks.events import forget_number
from core.number_crypto import blind_index
from core.privacy import erasures
from core.privacy.erasures import COUNT_NAMES, Erasure
from core.privacy.export_rows import (
    calls_of_number,
    contacts_of_number,
    followup_rows,
    lead_rows,
)


class ErasureRequest(BaseModel):
    number: str = Field(min_length=1, max_length=64, description="the client's number, any format")
    suppress: StrictBool = Field(
        default=False, description="also drop this number's future calls and contacts"
    )


class ErasureCounts(BaseModel):
    calls: int = 0
    contacts: int = 0
    notes: int = 0
    leads: int = 0
    statuses: int = Field(default=0, description="an employee's erasure: device statuses")


class ErasureView(BaseModel):
    id: str
    kind: Literal["number", "employee"]
    status: Literal["pending", "done"]
    counts: ErasureCounts = Field(description="what was found; final once `done`")
    requested_at: datetime
    done_at: datetime | None


class NumberExport(BaseModel):
    number: str = Field(description="E.164")
    calls: list[dict[str, Any]]
    contacts: list[dict[str, Any]]
    leads: list[dict[str, Any]]
    followups: list[dict[str, Any]]


class ExportView(BaseModel):
    id: str
    status: Literal["pending", "running", "done", "failed"]
    requested_at: datetime
    done_at: datetime | None
    expires_at: datetime | None = Field(description="downloadable until then")
    size_bytes: int | None
    counts: dict[str, int] = Field(description="rows per file")


def erasure_view(erasure: Erasure) -> ErasureView:
    counts = {name: erasure.counts.get(name, 0) for name in COUNT_NAMES}
    return ErasureView(
        id=erasure.id,
        kind=erasure.kind,
        status="done" if erasure.status == "done" else "pending",
        counts=ErasureCounts(**counts),
        requested_at=erasure.requested_at,
        done_at=erasure.done_at,
    )


def erase_number(
    context: ApiContext, tenant: Tenant, body: ErasureRequest, now: datetime
) -> tuple[Erasure, set[str]]:
    """The erasure, its number's lead deleted in the same transaction (phones drop it), and
    the employees whose phones must hear of that."""
    keys = company_keys(tenant.company, context.master_key)
    key = number_key(body.number, tenant.company, keys)
    with lead_transaction(context, replace(tenant, employee_ids=None), now) as writer:
        lead_id = writer.holders([key]).get(key)
        if lead_id is not None:
            delete_lead(writer, lead_id)
        writer.conn.execute(  # and its follow-ups (those of its lead went with it)
            followups.delete().where(
                followups.c.company_id == tenant.company.id, followups.c.number_key == key
            )
        )
        erasure = erasures.request_erasure(
            writer.conn,
            tenant.company.id,
            now,
            number_key=key,
            suppress=body.suppress,
            counts={"leads": int(lead_id is not None)},
            forget_number=forget_number,
        )
        told = set(writer.feed.employees)
    return erasure, told


def erase_employee(db: Connection, tenant: Tenant, employee_id: str, now: datetime) -> Erasure:
    """Consent withdrawn: tracking off, every device revoked (its FCM token and SIMs
    forgotten), all they sent erased."""
    find_employee(db, tenant.company.id, employee_id)
    db.execute(
        employees.update().where(employees.c.id == employee_id).values(tracking_enabled=False)
    )
    of_employee = sa.select(devices.c.id).where(
        devices.c.company_id == tenant.company.id, devices.c.employee_id == employee_id
    )
    device_ids = list(db.execute(of_employee).scalars())
    revoke_devices(db, of_employee, now)
    # what the phones reported about themselves goes too; brand and model stay for the list
    db.execute(
        devices.update().where(devices.c.id.in_(device_ids)).values(fcm_token=None, sims="[]")
    )
    return erasures.request_erasure(
        db,
        tenant.company.id,
        now,
        employee_id=employee_id,
        devices=device_ids,
        forget_number=forget_number,
    )


def get_erasure(db: Connection, company_id: str, erasure_id: str) -> Erasure:
    found = erasures.find(db, company_id, erasure_id)
    if found is None:
        raise NotFound("not_found", f"no erasure {erasure_id}")
    return found


def export_number(context: ApiContext, db: Connection, tenant: Tenant, number: str) -> NumberExport:
    keys = company_keys(tenant.company, context.master_key)
    e164 = normalised_number(number, tenant.company)
    key = blind_index(keys, e164)
    held = db.execute(
        sa.select(lead_numbers.c.lead_id).where(
            lead_numbers.c.company_id == tenant.company.id, lead_numbers.c.number_key == key
        )
    ).scalars()
    scope = tenant.employee_ids  # a team-limited caller sees its teams' rows only
    return NumberExport(
        number=e164,
        calls=calls_of_number(tenant.clickhouse, keys, as_uuid(key), scope),
        contacts=contacts_of_number(tenant.clickhouse, keys, key, scope),
        leads=list(lead_rows(db, tenant.company.id, keys, list(held), scope)),
        followups=list(followup_rows(db, tenant.company.id, keys, key, scope)),
    )


def request_export(db: Connection, company_id: str, now: datetime) -> ExportView:
    export_id = str(uuid.uuid4())
    db.execute(
        exports.insert().values(
            id=export_id, company_id=company_id, status="pending", requested_at=now, counts="{}"
        )
    )
    return get_export(db, company_id, export_id, now)


def get_export(db: Connection, company_id: str, export_id: str, now: datetime) -> ExportView:
    row = db.execute(
        sa.select(exports).where(exports.c.id == export_id, exports.c.company_id == company_id)
    ).first()
    if row is None or (row.expires_at is not None and row.expires_at <= now):
        raise NotFound("not_found", f"no export {export_id} (archives are kept 7 days)")
    return ExportView(
        id=row.id,
        status=row.status,
        requested_at=row.requested_at,
        done_at=row.done_at,
        expires_at=row.expires_at,
        size_bytes=row.size_bytes,
        counts=json.loads(row.counts),
    )


def export_file(db: Connection, company_id: str, export_id: str, now: datetime) -> Path:
    found = get_export(db, company_id, export_id, now)
    if found.status != "done":
        raise Conflict("export_not_ready", f"the export is {found.status}; try again later")
    path = db.execute(sa.select(exports.c.path).where(exports.c.id == export_id)).scalar_one()
    return Path(path)
