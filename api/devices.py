"""Devices of a company: who carries them, their health and whether they went quiet."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from api.deps import CurrentTenant, Db, utc_now
from api.tenancy import CompanyClickHouse
from schemas.controlplane import devices, employees

router = APIRouter(prefix="/v1/devices", tags=["devices"])

LATEST_STATUS_SQL = """SELECT device_id,
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
FROM device_status FINAL WHERE company_id = %(company_id)s GROUP BY device_id"""
LAST_UPLOAD_SQL = """SELECT device_id, toUnixTimestamp(max(synced_at)) AS synced_ts
FROM calls WHERE company_id = %(company_id)s GROUP BY device_id"""


def instant(ts: int | None) -> datetime | None:
    return datetime.fromtimestamp(ts, UTC) if ts else None


def device_view(
    device: dict[str, Any],
    status: dict[str, Any] | None,
    last_upload_ts: int | None,
    now: datetime,
    stale_after_s: int,
) -> dict[str, Any]:
    """One device as managers see it. Stale: nothing (status or calls) arrived for longer than
    the company's threshold; a device that never reported counts from its enrollment."""
    seen = [ts for ts in (status and status["received_ts"], last_upload_ts) if ts]
    last_seen = instant(max(seen)) if seen else None
    quiet_since = last_seen or device["enrolled_at"]
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
        "last_seen_at": last_seen,
        "location": location,
        "sims": json.loads(device["sims"]),
        "fcm_token_valid": bool(device["fcm_token"]) and device["fcm_token_invalid_at"] is None,
        "stale": (now - quiet_since).total_seconds() > stale_after_s,
    }


def health(ch: CompanyClickHouse) -> tuple[dict[str, dict[str, Any]], dict[str, int]]:
    statuses = {row["device_id"]: row for row in ch.query(LATEST_STATUS_SQL)}
    uploads = {row["device_id"]: int(row["synced_ts"]) for row in ch.query(LAST_UPLOAD_SQL)}
    return statuses, uploads


@router.get("")
async def list_devices(tenant: CurrentTenant, db: Db) -> dict[str, Any]:
    rows = db.execute(
        sa.select(devices, employees.c.name.label("employee_name"))
        .select_from(devices.join(employees))
        .where(devices.c.company_id == tenant.company.id)
        .order_by(employees.c.name, devices.c.id)
    )
    known = [row._asdict() for row in rows]
    statuses, uploads = await run_in_threadpool(health, tenant.clickhouse)
    now = utc_now()
    items = [
        device_view(
            d, statuses.get(d["id"]), uploads.get(d["id"]), now, tenant.company.stale_after_s
        )
        for d in known
    ]
    return {"items": items, "stale_after_s": tenant.company.stale_after_s}
