"""Devices as managers see them (the devices list, and `data` of `device.stale` webhooks): who
carries each, its latest health and position, whether it went quiet. One definition for the
report API and the worker."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.engine import Connection

from core.clickhouse import ClickHouse
from core.company_clickhouse import (
    COMPANY_FILTER,
    NOT_ERASED,
    NOT_ERASED_DEVICE,
    CompanyClickHouse,
)
from core.controlplane import companies, devices, employees, hooks
from core.devices.health import LAST_UPLOAD_SQL, instant, is_stale, last_seen, quiet_since
from schemas.events import IntegrationEvent, IntegrationEvents, integration_event_id

# company-scoped ClickHouse reads: the SQL holds `company_id = %(company_id)s`
CompanyQuery = Callable[[str], list[dict[str, Any]]]


class LocationView(BaseModel):
    lat: float
    lon: float
    accuracy_m: float | None
    at: datetime | None


class SimView(BaseModel):
    slot: int
    sim_id: str
    carrier: str | None = None


class DeviceView(BaseModel):
    id: str
    employee_id: str
    employee_name: str
    brand: str
    model: str
    app_version: str
    battery_pct: int | None
    charging: bool | None
    network: str | None
    last_seen_at: datetime | None = Field(description="the latest status or call upload")
    location: LocationView | None = Field(description="the latest reported position")
    sims: list[SimView]
    fcm_token_valid: bool = Field(description="a sync push can reach the phone")
    stale: bool = Field(description="nothing arrived for longer than stale_after_s")
    revoked_at: datetime | None


LATEST_STATUS_SQL = f"""SELECT device_id,
    toUnixTimestamp(max(received_at)) AS received_ts,
    argMax(battery_pct, reported_at) AS battery_pct,
    argMax(charging, reported_at) AS charging,
    countIf(has_location = 1) AS locations,
    argMaxIf(lat, located_at, has_location = 1) AS lat,
    argMaxIf(lon, located_at, has_location = 1) AS lon,
    argMaxIf(accuracy_m, located_at, has_location = 1) AS accuracy_m,
    toUnixTimestamp(maxIf(located_at, has_location = 1)) AS located_ts,
    argMaxIf(app_version, reported_at, app_version != '') AS app_version,
    argMaxIf(network, reported_at, network != '') AS network
FROM device_status FINAL WHERE {COMPANY_FILTER} AND {NOT_ERASED_DEVICE} GROUP BY device_id"""


def device_view(
    device: dict[str, Any],
    status: dict[str, Any] | None,
    last_upload_ts: int | None,
    now: datetime,
    stale_after_s: int,
) -> dict[str, Any]:
    """One device as managers see it (staleness: core/devices/health.py)."""
    seen = last_seen(status["received_ts"] if status else None, last_upload_ts)
    location = None
    if status and status["locations"]:
        location = {
            "lat": status["lat"],
            "lon": status["lon"],
            "accuracy_m": status["accuracy_m"] or None,
            "at": instant(status["located_ts"]),
        }
    return {
        "id": device["id"],
        "employee_id": device["employee_id"],
        "employee_name": device["employee_name"],
        "brand": device["brand"],
        "model": device["model"],
        "app_version": (status and status["app_version"]) or device["app_version"],
        "battery_pct": status["battery_pct"] if status else None,
        "charging": None if not status or status["charging"] < 0 else bool(status["charging"]),
        "network": (status and status["network"]) or None,
        "last_seen_at": seen,
        "location": location,
        "sims": json.loads(device["sims"]),
        "fcm_token_valid": bool(device["fcm_token"]) and device["fcm_token_invalid_at"] is None,
        "stale": is_stale(seen, device["enrolled_at"], now, stale_after_s),
        "revoked_at": device["revoked_at"],
    }


def health(query: CompanyQuery) -> tuple[dict[str, dict[str, Any]], dict[str, int]]:
    """Latest status and last upload per device of one company."""
    statuses = {row["device_id"]: row for row in query(LATEST_STATUS_SQL)}
    uploads = {
        row["device_id"]: int(row["ts"])
        for row in query(LAST_UPLOAD_SQL.format(scope=f"{COMPANY_FILTER} AND {NOT_ERASED}"))
    }
    return statuses, uploads


def device_rows(company_id: str) -> sa.Select[Any]:
    """A company's devices with their employee's name (the caller narrows and orders)."""
    return (
        sa.select(devices, employees.c.name.label("employee_name"))
        .select_from(devices.join(employees))
        .where(devices.c.company_id == company_id)
    )


def device_views(
    rows: Iterable[Any], query: CompanyQuery, now: datetime, stale_after_s: int
) -> list[dict[str, Any]]:
    known = [row._asdict() for row in rows]
    statuses, uploads = health(query)
    return [
        device_view(d, statuses.get(d["id"]), uploads.get(d["id"]), now, stale_after_s)
        for d in known
    ]


def stale_device_events(
    conn: Connection, clickhouse: ClickHouse, now: datetime
) -> list[IntegrationEvents]:
    """`device.stale` for every stale device of the companies with a hook for it. The id is the
    device's and the start of its quiet period: asked again each check, the same quiet period
    makes the same id (the delivery log drops it); a device heard from and quiet again makes a
    new one."""
    watched = conn.execute(
        sa.select(companies.c.id, companies.c.stale_after_s)
        .where(
            companies.c.id.in_(
                sa.select(hooks.c.company_id).where(
                    hooks.c.event == "device.stale", hooks.c.disabled_at.is_(None)
                )
            )
        )
        .order_by(companies.c.id)
    ).all()
    records = []
    for company_id, stale_after_s in watched:
        rows = list(conn.execute(device_rows(company_id).where(devices.c.revoked_at.is_(None))))
        enrolled = {row.id: row.enrolled_at for row in rows}

        query = CompanyClickHouse(clickhouse, company_id).query
        events = [
            IntegrationEvent(
                id=integration_event_id(
                    "device.stale",
                    view["id"],
                    str(int(quiet_since(view["last_seen_at"], enrolled[view["id"]]).timestamp())),
                ),
                type="device.stale",
                company_id=company_id,
                occurred_at=now,
                data=DeviceView.model_validate(view).model_dump(mode="json"),
            )
            for view in device_views(rows, query, now, stale_after_s)
            if view["stale"]
        ]
        if events:
            records.append(IntegrationEvents(company_id=company_id, events=events))
    return records
