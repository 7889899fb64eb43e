"""A call as the history shows it (API.md "Call history"): the history's items, the polling
trigger's and the webhooks' `data`, made the same way by the report API and the worker."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.engine import Connection

from core.controlplane import devices, employees
from core.number_crypto import CompanyKeys, decrypt_number


class CallItem(BaseModel):
    id: str
    employee_id: str
    device_id: str
    number: str | None
    name: str | None
    type: str
    started_at: datetime
    duration_s: int
    sim_slot: int | None = None
    sim: dict[str, Any] | None = None  # the device's SIM in that slot: slot, sim_id, carrier
    note: str | None
    lead_id: str | None = None
    synced_at: datetime
    employee_name: str | None = Field(default=None, description="as the Employees page has it")
    employee_email: str | None = None


People = dict[str, tuple[str, str | None]]  # employee id -> name, email


@dataclass(frozen=True, slots=True)
class Labels:
    """What an item names beside the call, read once per page from the control plane: each
    device's SIMs by slot, each employee's name and email."""

    sims: dict[tuple[str, int], dict[str, Any]]
    people: People


def call_labels(db: Connection, company_id: str, people: People | None = None) -> Labels:
    """The devices' SIMs as they last reported them (dual-SIM attribution) and the employees'
    names and emails (archived ones too: their calls stay), unless the caller read them."""
    rows = db.execute(
        sa.select(devices.c.id, devices.c.sims).where(devices.c.company_id == company_id)
    )
    sims = {(row.id, sim["slot"]): sim for row in rows for sim in json.loads(row.sims)}
    return Labels(sims, people if people is not None else people_of(db, company_id))


def people_of(db: Connection, company_id: str) -> People:
    """Each employee's name and email (archived ones too: their calls and leads stay)."""
    staff = db.execute(
        sa.select(employees.c.id, employees.c.name, employees.c.email).where(
            employees.c.company_id == company_id
        )
    )
    return {row.id: (row.name, row.email) for row in staff}


def to_item(
    row: dict[str, Any],
    labels: Labels,
    zone: ZoneInfo,
    reveal: CompanyKeys | None = None,
) -> CallItem:
    """One call as the history shows it: the number masked, or in E.164 with `reveal` keys."""
    return CallItem(**item_fields(row, labels, zone, reveal))


def item_fields(
    row: dict[str, Any],
    labels: Labels,
    zone: ZoneInfo,
    reveal: CompanyKeys | None = None,
) -> dict[str, Any]:
    """`to_item`'s fields, for a model that adds its own (the change feed's version)."""
    number: str | None
    person = labels.people.get(row["employee_id"])
    if reveal is not None and row["number_enc"]:
        number = decrypt_number(reveal, row["number_enc"])
    else:
        number = row["number_masked"] or None
    return {
        "id": row["call_id"],
        "employee_id": row["employee_id"],
        "device_id": row["device_id"],
        "number": number,
        "name": row["name"] or None,
        "type": row["type"],
        "started_at": datetime.fromtimestamp(row["started_ts"], zone),
        "duration_s": row["duration_s"],
        "sim_slot": row["sim_slot"] if row["sim_slot"] >= 0 else None,
        "sim": labels.sims.get((row["device_id"], row["sim_slot"])),
        "note": row["note_text"] or None,
        "lead_id": None,  # the caller's to fill (the control plane knows)
        "synced_at": datetime.fromtimestamp(row["synced_ts"], zone),
        "employee_name": person[0] if person else None,
        "employee_email": person[1] if person else None,
    }
