"""When a device was last seen, whether it is stale, and pushing to devices (stale ones to sync,
an employee's phones to fetch their leads): one rule for the devices list (api/devices/routes.py), the
worker's stale-device pushes and the report API's lead pushes."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.clickhouse import ClickHouse
from core.controlplane import companies, devices
from core.devices.push import PushOutcome, SyncPusher

log = logging.getLogger(__name__)

LAST_STATUS_SQL = """SELECT device_id, toUnixTimestamp(max(received_at)) AS ts
FROM device_status WHERE {scope} GROUP BY device_id"""
LAST_UPLOAD_SQL = """SELECT device_id, toUnixTimestamp(max(synced_at)) AS ts
FROM calls WHERE {scope} GROUP BY device_id"""


def instant(ts: int | None) -> datetime | None:
    return datetime.fromtimestamp(ts, UTC) if ts else None


def last_seen(*timestamps: int | None) -> datetime | None:
    """The latest arrival of anything from the device (a status or a call upload)."""
    seen = [ts for ts in timestamps if ts]
    return instant(max(seen)) if seen else None


def quiet_since(seen: datetime | None, enrolled_at: datetime) -> datetime:
    return seen or enrolled_at


def is_stale(
    seen: datetime | None, enrolled_at: datetime, now: datetime, stale_after_s: int
) -> bool:
    """Nothing arrived for longer than the company's threshold (counted from enrollment when
    the device never reported)."""
    return (now - quiet_since(seen, enrolled_at)).total_seconds() > stale_after_s


def push_sync(
    engine: Engine, pusher: SyncPusher, device_id: str, token: str, now: datetime
) -> PushOutcome:
    """Push, then record the outcome: a dead token is marked and never pushed to again."""
    outcome = pusher.push_sync(token)
    changes = {
        PushOutcome.SENT: {"sync_pushed_at": now},
        PushOutcome.UNREGISTERED: {"fcm_token_invalid_at": now},
    }.get(outcome)
    if changes:
        mark_device(engine, device_id, changes)
    return outcome


def mark_device(engine: Engine, device_id: str, changes: dict[str, datetime]) -> None:
    with engine.begin() as conn:
        conn.execute(devices.update().where(devices.c.id == device_id).values(**changes))


def push_to_employees(
    engine: Engine,
    pusher: SyncPusher,
    company_id: str,
    employee_ids: Iterable[str],
    data: dict[str, str],
    now: datetime,
) -> dict[str, PushOutcome]:
    """`data` to every live device of these employees (a dead token is marked, as by
    `push_sync`); device id -> outcome."""
    wanted = sorted(set(employee_ids))
    if not pusher.enabled or not wanted:
        return {}
    with engine.connect() as conn:
        targets = list(
            conn.execute(
                sa.select(devices.c.id, devices.c.fcm_token).where(
                    devices.c.company_id == company_id,
                    devices.c.employee_id.in_(wanted),
                    devices.c.revoked_at.is_(None),
                    devices.c.fcm_token.is_not(None),
                    devices.c.fcm_token_invalid_at.is_(None),
                )
            )
        )
    outcomes = {}
    for device in targets:
        outcomes[device.id] = outcome = pusher.push(device.fcm_token, data)
        if outcome is PushOutcome.UNREGISTERED:  # dead: never pushed to again
            mark_device(engine, device.id, {"fcm_token_invalid_at": now})
    return outcomes


def arrivals(clickhouse: ClickHouse) -> dict[str, int]:
    """Latest arrival per device, over every company (the worker is not a tenant)."""
    latest: dict[str, int] = {}
    for sql in (LAST_STATUS_SQL, LAST_UPLOAD_SQL):
        for row in clickhouse.query(sql.format(scope="1")):
            latest[row["device_id"]] = max(latest.get(row["device_id"], 0), int(row["ts"]))
    return latest


def fleet_states(engine: Engine, clickhouse: ClickHouse, now: datetime) -> dict[str, int]:
    """Devices not revoked over every company, current or stale (each by its company's
    threshold): the operator's figure of quiet phones, never per company."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(devices.c.id, devices.c.enrolled_at, companies.c.stale_after_s)
            .select_from(devices.join(companies))
            .where(devices.c.revoked_at.is_(None))
        ).all()
    seen_at = arrivals(clickhouse)
    stale = sum(
        is_stale(instant(seen_at.get(row.id)), row.enrolled_at, now, row.stale_after_s)
        for row in rows
    )
    return {"current": len(rows) - stale, "stale": stale}


def push_stale_devices(
    engine: Engine, clickhouse: ClickHouse, pusher: SyncPusher, now: datetime
) -> dict[str, PushOutcome]:
    """Ask every stale device with a live token to sync, at most once per stale period: not again
    until something arrives from it (which starts a new period)."""
    if not pusher.enabled:
        return {}
    with engine.connect() as conn:
        candidates: list[Any] = list(
            conn.execute(
                sa.select(
                    devices.c.id,
                    devices.c.fcm_token,
                    devices.c.enrolled_at,
                    devices.c.sync_pushed_at,
                    companies.c.stale_after_s,
                )
                .select_from(devices.join(companies))
                .where(devices.c.fcm_token.is_not(None), devices.c.fcm_token_invalid_at.is_(None))
            )
        )
    seen_at = arrivals(clickhouse)
    outcomes = {}
    for device in candidates:
        seen = instant(seen_at.get(device.id))
        if not is_stale(seen, device.enrolled_at, now, device.stale_after_s):
            continue
        if device.sync_pushed_at is not None and device.sync_pushed_at >= quiet_since(
            seen, device.enrolled_at
        ):
            continue
        outcomes[device.id] = push_sync(engine, pusher, device.id, device.fcm_token, now)
    if outcomes:
        log.info("stale devices asked to sync: %s", dict(sorted(outcomes.items())))
    return outcomes
