"""How a device looks to managers, with staleness from an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.devices.views import device_view

ENROLLED = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
DEVICE = {
    "id": "d1",
    "employee_id": "e1",
    "employee_name": "Asha",
    "brand": "Samsung",
    "model": "A54",
    "app_version": "1.0.0",
    "sims": "[]",
    "fcm_token": "t",
    "fcm_token_invalid_at": None,
    "enrolled_at": ENROLLED,
    "revoked_at": None,
}
STATUS = {
    "received_ts": int((ENROLLED + timedelta(hours=1)).timestamp()),
    "battery_pct": 40,
    "charging": 1,
    "locations": 0,
    "lat": 0.0,
    "lon": 0.0,
    "accuracy_m": 0.0,
    "located_ts": 0,
    "app_version": "1.1.0",
    "network": "wifi",
}
SIX_HOURS = 6 * 3600


def test_fresh_then_stale_after_the_threshold() -> None:
    seen = ENROLLED + timedelta(hours=1)
    view = device_view(DEVICE, STATUS, None, seen + timedelta(hours=6), SIX_HOURS)
    assert (view["stale"], view["last_seen_at"], view["battery_pct"], view["charging"]) == (
        False,
        seen,
        40,
        True,
    )
    assert view["app_version"] == "1.1.0" and view["location"] is None
    assert device_view(DEVICE, STATUS, None, seen + timedelta(hours=6, seconds=1), SIX_HOURS)[
        "stale"
    ]


def test_a_call_upload_counts_as_seen_and_silence_counts_from_enrollment() -> None:
    upload = int((ENROLLED + timedelta(hours=10)).timestamp())
    now = ENROLLED + timedelta(hours=12)
    assert not device_view(DEVICE, STATUS, upload, now, SIX_HOURS)["stale"]
    never = device_view(DEVICE, None, None, now, SIX_HOURS)
    assert never["stale"] and never["last_seen_at"] is None and never["battery_pct"] is None
    assert not device_view(DEVICE, None, None, ENROLLED + timedelta(hours=5), SIX_HOURS)["stale"]
