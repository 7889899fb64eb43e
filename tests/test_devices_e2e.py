"""Device status through the real stack: ingest -> Kafka -> worker -> ClickHouse and the control
plane -> GET /v1/devices."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from core.controlplane import devices, make_engine
from tests.support.stack import Stack, eventually
from tests.test_faults import enrolled, wire_calls
from tests.test_pipeline_e2e import upload


def status(stack: Stack, token: str, body: dict[str, Any]) -> Any:
    return stack.ingest.post(
        "/v1/device/status", json=body, headers={"Authorization": f"Bearer {token}"}
    )


def test_status_reaches_the_devices_list(module_stack: Stack) -> None:
    stack = module_stack
    key, token = enrolled(stack, "Devices")
    auth = {"Authorization": f"Bearer {key}"}
    newer = {
        "at": "2026-03-02T10:30:00+05:30",
        "battery_pct": 57,
        "charging": False,
        "location": {"lat": 19.076, "lon": 72.8777, "accuracy_m": 12.5},
        "app_version": "1.8.2",
        "network": "wifi",
        "fcm_token": "token-2",
        "sims": [
            {"slot": 0, "sim_id": "8991-1", "carrier": "Jio", "number": "+919876500001"},
            {"slot": 1, "sim_id": "8991-2", "carrier": "Airtel"},
        ],
    }
    older = {
        "at": "2026-03-02T09:00:00+05:30",
        "battery_pct": 99,
        "fcm_token": "token-1",
        "sims": [],
    }
    assert status(stack, token, newer).status_code == 202
    assert status(stack, token, older).status_code == 202  # arrives late: must not win
    bad = status(stack, token, {"at": "2026-03-02T10:30:00+05:30", "battery_pct": 150})
    assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["path"] == "battery_pct"
    assert upload(stack, token, wire_calls(3, "dev-")).status_code == 202

    def listed() -> dict[str, Any] | None:
        # the status row (ClickHouse) is stored before the facts it carries (SIMs, FCM token:
        # control plane), so wait for both
        items = stack.api.get("/v1/devices", headers=auth).json()["items"]
        return (
            items[0]
            if items
            and items[0]["battery_pct"] is not None
            and items[0]["last_seen_at"]
            and items[0]["sims"]
            else None
        )

    device = eventually(listed)
    assert device["battery_pct"] == 57 and device["charging"] is False
    assert device["location"]["lat"] == 19.076 and device["location"]["accuracy_m"] == 12.5
    assert device["app_version"] == "1.8.2" and device["network"] == "wifi"
    assert device["stale"] is False and device["employee_name"] == "Asha"
    assert device["sims"] == [
        {"slot": 0, "sim_id": "8991-1", "carrier": "Jio"},
        {"slot": 1, "sim_id": "8991-2", "carrier": "Airtel"},
    ]
    assert device["fcm_token_valid"] is True
    engine = make_engine(stack.env["CLOSECALL_DATABASE_URL"])
    with engine.connect() as conn:
        token_now = conn.execute(
            sa.select(devices.c.fcm_token).where(devices.c.id == device["id"])
        ).scalar()
    assert token_now == "token-2"
    changed = stack.api.patch("/v1/company", json={"stale_after_s": 3600}, headers=auth)
    assert changed.json() | {"id": "", "name": ""} == {
        "id": "",
        "name": "",
        "country": "IN",
        "timezone": "Asia/Kolkata",
        "privacy_contact_name": None,
        "privacy_contact_email": None,
        "stale_after_s": 3600,
        "plan": "basic",
        "status": "active",
        "period_end": None,
        "retention_days": None,
        "rep_digests": False,
    }
    # the plan, retention and the company's identity are the owner's: an admin key may not
    # change them
    for owners in ({"plan": "basic_lead"}, {"retention_days": 90}, {"timezone": "UTC"}):
        refused = stack.api.patch("/v1/company", json=owners, headers=auth)
        assert refused.status_code == 403 and "owner" in refused.json()["error"]["message"]
    assert stack.api.get("/v1/devices", headers=auth).json()["stale_after_s"] == 3600
    assert (
        stack.api.patch("/v1/company", json={"stale_after_s": 5}, headers=auth).status_code == 422
    )

    # no Firebase credentials on this stack: the push feature says so instead of failing
    sync = stack.api.post(f"/v1/devices/{device['id']}/sync", headers=auth)
    assert (sync.status_code, sync.json()["error"]["code"]) == (503, "push_disabled")
    assert stack.api.post("/v1/devices/no-such-device/sync", headers=auth).status_code == 404
    assert "FCM pushes are off: set CLOSECALL_FCM_CREDENTIALS_FILE" in stack.log("worker")
