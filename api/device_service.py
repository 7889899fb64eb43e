"""Devices of a company: who carries them, their health and whether they went quiet; revoking
one and asking one to sync. The logic behind api/devices.py."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.engine import Connection, Engine

from api.employee_service import Scope, in_scope, revoke_devices
from api.tenancy import COMPANY_FILTER, CompanyClickHouse
from core.controlplane import devices, employees
from core.device_health import LAST_UPLOAD_SQL, instant, is_stale, last_seen, push_sync
from core.errors import ApiError
from core.push import PushOutcome, SyncPusher


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


class DeviceList(BaseModel):
    items: list[DeviceView]
    stale_after_s: int


class SyncSent(BaseModel):
    status: str = Field(description="`sent`: FCM took the message")


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


def device_view(
    device: dict[str, Any],
    status: dict[str, Any] | None,
    last_upload_ts: int | None,
    now: datetime,
    stale_after_s: int,
) -> dict[str, Any]:
    """One device as managers see it (staleness: streams/device_health.py)."""
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


def health(ch: CompanyClickHouse) -> tuple[dict[str, dict[str, Any]], dict[str, int]]:
    statuses = {row["device_id"]: row for row in ch.query(LATEST_STATUS_SQL)}
    uploads = {
        row["device_id"]: int(row["ts"])
        for row in ch.query(LAST_UPLOAD_SQL.format(scope=COMPANY_FILTER))
    }
    return statuses, uploads


def list_devices(
    db: Connection,
    ch: CompanyClickHouse,
    company_id: str,
    stale_after_s: int,
    revoked: bool,
    now: datetime,
    only: Scope = None,
) -> list[dict[str, Any]]:
    query = in_scope(
        sa.select(devices, employees.c.name.label("employee_name"))
        .select_from(devices.join(employees))
        .where(devices.c.company_id == company_id),
        only,
    )
    if not revoked:
        query = query.where(devices.c.revoked_at.is_(None))
    known = [row._asdict() for row in db.execute(query.order_by(employees.c.name, devices.c.id))]
    statuses, uploads = health(ch)
    return [
        device_view(d, statuses.get(d["id"]), uploads.get(d["id"]), now, stale_after_s)
        for d in known
    ]


def revoke_device(
    db: Connection, company_id: str, device_id: str, now: datetime, only: Scope = None
) -> None:
    """A lost or replaced phone: its token stops working (within ingest's cache TTL); the
    phone can enrol again with a new code."""
    ids = sa.select(devices.c.id).where(
        devices.c.id == device_id,
        devices.c.company_id == company_id,
        *(() if only is None else (devices.c.employee_id.in_(only),)),
    )
    if db.execute(ids).first() is None:
        raise ApiError(404, "not_found", f"no device {device_id}")
    revoke_devices(db, ids, now)


def live_push_token(
    db: Connection, company_id: str, device_id: str, pusher: SyncPusher, only: Scope = None
) -> str:
    device = db.execute(
        sa.select(devices.c.fcm_token, devices.c.fcm_token_invalid_at).where(
            devices.c.id == device_id,
            devices.c.company_id == company_id,
            *(() if only is None else (devices.c.employee_id.in_(only),)),
        )
    ).first()
    if device is None:
        raise ApiError(404, "not_found", f"no device {device_id}")
    if not pusher.enabled:
        raise ApiError(
            503,
            "push_disabled",
            "FCM is not configured on this server (CLOSECALL_FCM_CREDENTIALS_FILE)",
        )
    if not device.fcm_token or device.fcm_token_invalid_at is not None:
        raise ApiError(
            409, "no_push_token", "the device has no live FCM token; open the app on the phone"
        )
    token: str = device.fcm_token
    return token


def sync_device(
    engine: Engine, pusher: SyncPusher, device_id: str, token: str, now: datetime
) -> None:
    outcome = push_sync(engine, pusher, device_id, token, now)
    if outcome is PushOutcome.UNREGISTERED:
        raise ApiError(409, "no_push_token", "FCM says the device's token is no longer registered")
    if outcome is not PushOutcome.SENT:
        raise ApiError(502, "push_failed", "FCM did not take the message; try again later")
