"""Stale devices are asked to sync once per stale period, through the real firebase-admin path
(HTTP stubbed at FCM's URL), with the control plane on SQLite and ClickHouse on chDB."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import responses
import sqlalchemy as sa

from core.clickhouse import ClickHouse
from core.controlplane import companies, devices, employees, make_engine, migrate
from core.devices.health import push_stale_devices
from core.devices.push import PushOutcome
from streams.devices.status_rows import EPOCH, STATUS_COLUMNS
from tests.support.fcm import FCM_URL, UNREGISTERED_BODY, stub_pusher

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def seed(engine: sa.Engine, device_id: str, token: str, enrolled_at: datetime) -> str:
    company_id, employee_id = str(uuid.uuid4()), str(uuid.uuid4())
    with engine.begin() as conn:
        conn.execute(
            companies.insert().values(
                id=company_id,
                name="C",
                country="IN",
                timezone="Asia/Kolkata",
                plan="basic",
                wrapped_data_key="-",
                created_at=NOW,
            )
        )
        conn.execute(
            employees.insert().values(
                id=employee_id,
                company_id=company_id,
                name="E",
                tracking_enabled=True,
                created_at=NOW,
            )
        )
        conn.execute(
            devices.insert().values(
                id=device_id,
                company_id=company_id,
                employee_id=employee_id,
                hardware_id=device_id,
                brand="",
                model="",
                android_version="",
                sdk_int=0,
                app_version="",
                app_version_code=0,
                fcm_token=token,
                sims="[]",
                enrolled_at=enrolled_at,
            )
        )
    return company_id


def status_seen(store: ClickHouse, company_id: str, device_id: str, at: datetime) -> None:
    row = (
        company_id,
        device_id,
        "e",
        at,
        at,
        50,
        -1,
        0,
        0.0,
        0.0,
        0.0,
        EPOCH,
        "",
        0,
        "",
        0,
        "",
        "",
    )
    store.insert("device_status", STATUS_COLUMNS, [row])


def sent_tokens() -> list[str]:
    return [
        json.loads(cast(bytes, call.request.body))["message"]["token"] for call in responses.calls
    ]


@responses.activate
def test_stale_devices_get_one_push_per_stale_period(
    tmp_path: Path, chdb_store: ClickHouse
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'control.db'}")
    migrate(engine)
    quiet, fresh, dead = (f"{name}-{uuid.uuid4().hex[:6]}" for name in ("quiet", "fresh", "dead"))
    company = seed(engine, quiet, "token-quiet", NOW - 7 * HOUR)  # never reported, 6 h threshold
    seed(engine, fresh, "token-fresh", NOW - 5 * HOUR)
    seed(engine, dead, "token-dead", NOW - 9 * HOUR)
    responses.post(
        FCM_URL,
        json={"name": "ok"},
        match=[
            responses.matchers.json_params_matcher(
                {
                    "message": {
                        "token": "token-quiet",
                        "data": {"action": "sync"},
                        "android": {"priority": "high"},
                    }
                }
            )
        ],
    )
    dead_token = responses.matchers.json_params_matcher(
        {
            "message": {
                "token": "token-dead",
                "data": {"action": "sync"},
                "android": {"priority": "high"},
            }
        }
    )
    responses.post(FCM_URL, status=404, json=UNREGISTERED_BODY, match=[dead_token])
    pusher = stub_pusher()

    first = push_stale_devices(engine, chdb_store, pusher, NOW)
    assert {k: v for k, v in first.items() if k in (quiet, fresh, dead)} == {
        quiet: PushOutcome.SENT,
        dead: PushOutcome.UNREGISTERED,
    }
    assert sorted(sent_tokens()) == ["token-dead", "token-quiet"]

    # still stale an hour later: neither pushed again (sent once; the dead token is recorded)
    again = push_stale_devices(engine, chdb_store, pusher, NOW + HOUR)
    assert not {quiet, dead} & set(again)

    # the quiet phone reports, then goes quiet for longer than 6 h: a new period, a new push
    status_seen(chdb_store, company, quiet, NOW + 2 * HOUR)
    assert quiet not in push_stale_devices(engine, chdb_store, pusher, NOW + 3 * HOUR)
    assert push_stale_devices(engine, chdb_store, pusher, NOW + 9 * HOUR)[quiet] is PushOutcome.SENT
    with engine.connect() as conn:
        marked = conn.execute(
            sa.select(devices.c.fcm_token_invalid_at).where(devices.c.id == dead)
        ).scalar()
    assert marked == NOW
