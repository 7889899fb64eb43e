"""What an export holds (API.md "Privacy"): the columns of each file and how a stored row
becomes one, numbers decrypted to E.164 and times in UTC. One definition for the export of one
number (report API) and the company's archive (worker)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core.company_clickhouse import (
    COMPANY_FILTER,
    NOT_ERASED,
    NOT_ERASED_CONTACT,
    NOT_ERASED_DEVICE,
    CompanyClickHouse,
)
from core.controlplane import devices, employees, followups, leads
from core.number_crypto import CompanyKeys, decrypt_number

EXPORT_DAYS = 7  # a company archive is downloadable this long
CALL_COLUMNS = (
    "id",
    "employee_id",
    "device_id",
    "number",
    "name",
    "type",
    "started_at",
    "duration_s",
    "sim_slot",
    "note",
    "synced_at",
)
CALLS_SQL = f"""SELECT call_id AS id, employee_id, device_id, number_enc, name, type,
    toUnixTimestamp(started_at) AS started_ts, duration_s, sim_slot,
    if(note_version > version, latest_note, note) AS note,
    toUnixTimestamp(synced_at) AS synced_ts
FROM calls FINAL
ANY LEFT JOIN (
    SELECT device_id, client_call_id, note AS latest_note, version AS note_version
    FROM call_notes FINAL WHERE {COMPANY_FILTER}
) AS latest_notes USING (device_id, client_call_id)
WHERE {COMPANY_FILTER} AND {NOT_ERASED} AND {{where}}
ORDER BY started_at, call_id"""
CONTACT_COLUMNS = ("id", "employee_id", "device_id", "name", "number", "synced_at")
CONTACTS_SQL = f"""SELECT contact_id AS id, employee_id, device_id, name, number_enc,
    toUnixTimestamp(synced_at) AS synced_ts
FROM contacts FINAL WHERE {COMPANY_FILTER} AND {NOT_ERASED_CONTACT} AND {{where}}
ORDER BY device_id, contact_id"""
STATUS_COLUMNS = (
    "device_id",
    "employee_id",
    "reported_at",
    "battery_pct",
    "charging",
    "lat",
    "lon",
    "accuracy_m",
    "located_at",
    "app_version",
    "android_version",
    "network",
)
STATUS_SQL = f"""SELECT device_id, employee_id, toUnixTimestamp(reported_at) AS reported_ts,
    battery_pct, charging, has_location, lat, lon, accuracy_m,
    toUnixTimestamp(located_at) AS located_ts, app_version, android_version, network
FROM device_status FINAL WHERE {COMPANY_FILTER} AND {NOT_ERASED_DEVICE} AND {{where}}
ORDER BY reported_at, device_id"""
LEAD_COLUMNS = (
    "id",
    "first_name",
    "last_name",
    "company",
    "email",
    "primary_number",
    "secondary_number",
    "address",
    "country",
    "state",
    "zip",
    "notes",
    "custom",  # the company's own fields, a JSON object by key (API.md "Leads")
    "employee_id",
    "created_at",
    "updated_at",
)
FOLLOWUP_COLUMNS = (
    "id",
    "lead_id",
    "number",
    "employee_id",
    "due_at",
    "note",
    "created_at",
    "done_at",
    "done_by_call_id",
)
EMPLOYEE_COLUMNS = (
    "id",
    "name",
    "phone",
    "email",
    "team",
    "tracking_enabled",
    "takes_leads",
    "created_at",
    "archived_at",
)
DEVICE_COLUMNS = (
    "id",
    "employee_id",
    "brand",
    "model",
    "android_version",
    "app_version",
    "enrolled_at",
    "revoked_at",
)


def utc(ts: int | None) -> str | None:
    return datetime.fromtimestamp(ts, UTC).isoformat() if ts else None


def _number(keys: CompanyKeys, sealed: str | None) -> str | None:
    return decrypt_number(keys, sealed) if sealed else None


def call_row(row: dict[str, Any], keys: CompanyKeys) -> dict[str, Any]:
    return {
        "id": row["id"],
        "employee_id": row["employee_id"],
        "device_id": row["device_id"],
        "number": _number(keys, row["number_enc"]),
        "name": row["name"] or None,
        "type": row["type"],
        "started_at": utc(row["started_ts"]),
        "duration_s": int(row["duration_s"]),
        "sim_slot": row["sim_slot"] if int(row["sim_slot"]) >= 0 else None,
        "note": row["note"] or None,
        "synced_at": utc(row["synced_ts"]),
    }


def contact_row(row: dict[str, Any], keys: CompanyKeys) -> dict[str, Any]:
    return {
        "id": row["id"],
        "employee_id": row["employee_id"],
        "device_id": row["device_id"],
        "name": row["name"] or None,
        "number": _number(keys, row["number_enc"]),
        "synced_at": utc(row["synced_ts"]),
    }


def status_row(row: dict[str, Any]) -> dict[str, Any]:
    located = bool(row["has_location"])
    return {
        "device_id": row["device_id"],
        "employee_id": row["employee_id"],
        "reported_at": utc(row["reported_ts"]),
        "battery_pct": row["battery_pct"] if int(row["battery_pct"]) >= 0 else None,
        "charging": None if int(row["charging"]) < 0 else bool(row["charging"]),
        "lat": row["lat"] if located else None,
        "lon": row["lon"] if located else None,
        "accuracy_m": row["accuracy_m"] if located else None,
        "located_at": utc(row["located_ts"]) if located else None,
        "app_version": row["app_version"] or None,
        "android_version": row["android_version"] or None,
        "network": row["network"] or None,
    }


def lead_row(row: Any, keys: CompanyKeys) -> dict[str, Any]:
    out = {name: getattr(row, name, None) for name in LEAD_COLUMNS}
    out["primary_number"] = _number(keys, row.primary_enc)
    out["secondary_number"] = _number(keys, row.secondary_enc)
    return {name: _plain(value) for name, value in out.items()}


def _of_employees(
    where: str, params: dict[str, Any], employee_ids: tuple[str, ...] | None
) -> tuple[str, dict[str, Any]]:
    """`where` limited to the rows of `employee_ids` (None: every employee's)."""
    if employee_ids is None:
        return where, params
    return f"{where} AND employee_id IN %(employees)s", {**params, "employees": employee_ids}


def calls_of_number(
    ch: CompanyClickHouse,
    keys: CompanyKeys,
    client: str,
    employee_ids: tuple[str, ...] | None = None,
) -> list[dict[str, Any]]:
    where, params = _of_employees("client = toUUID(%(client)s)", {"client": client}, employee_ids)
    return [call_row(row, keys) for row in ch.query(CALLS_SQL.format(where=where), params)]


def contacts_of_number(
    ch: CompanyClickHouse,
    keys: CompanyKeys,
    client_key: str,
    employee_ids: tuple[str, ...] | None = None,
) -> list[dict[str, Any]]:
    where, params = _of_employees("client_key = %(key)s", {"key": client_key}, employee_ids)
    return [contact_row(row, keys) for row in ch.query(CONTACTS_SQL.format(where=where), params)]


def lead_rows(
    conn: Connection,
    company_id: str,
    keys: CompanyKeys,
    lead_ids: list[str] | None = None,
    employee_ids: tuple[str, ...] | None = None,
) -> Iterator[dict[str, Any]]:
    query = sa.select(leads).where(leads.c.company_id == company_id)
    if lead_ids is not None:  # a number's leads (none: nothing)
        query = query.where(leads.c.id.in_(lead_ids))
    if employee_ids is not None:  # a team-limited caller: its employees' leads
        query = query.where(leads.c.employee_id.in_(employee_ids))
    for row in conn.execute(query.order_by(leads.c.created_at, leads.c.id)):
        yield lead_row(row, keys)


def followup_rows(
    conn: Connection,
    company_id: str,
    keys: CompanyKeys,
    number_key: str | None = None,
    employee_ids: tuple[str, ...] | None = None,
) -> Iterator[dict[str, Any]]:
    """The company's follow-ups (API.md "Leads"), or those of one number (its blind index)."""
    query = sa.select(followups).where(followups.c.company_id == company_id)
    if number_key is not None:
        query = query.where(followups.c.number_key == number_key)
    if employee_ids is not None:  # a team-limited caller: its employees' follow-ups
        query = query.where(followups.c.employee_id.in_(employee_ids))
    for row in conn.execute(query.order_by(followups.c.created_at, followups.c.id)):
        out = {name: getattr(row, name, None) for name in FOLLOWUP_COLUMNS}
        out["number"] = _number(keys, row.number_enc)
        out["done_by_call_id"] = row.done_by_call
        yield {name: _plain(value) for name, value in out.items()}


def employee_rows(conn: Connection, company_id: str) -> Iterator[dict[str, Any]]:
    query = sa.select(*(employees.c[name] for name in EMPLOYEE_COLUMNS)).where(
        employees.c.company_id == company_id
    )
    for row in conn.execute(query.order_by(employees.c.created_at, employees.c.id)):
        yield {name: _plain(value) for name, value in row._asdict().items()}


def device_rows(conn: Connection, company_id: str) -> Iterator[dict[str, Any]]:
    query = sa.select(*(devices.c[name] for name in DEVICE_COLUMNS)).where(
        devices.c.company_id == company_id
    )
    for row in conn.execute(query.order_by(devices.c.enrolled_at, devices.c.id)):
        yield {name: _plain(value) for name, value in row._asdict().items()}


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value
