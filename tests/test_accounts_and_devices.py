"""Signup, API keys, employees, enrollment codes and device tokens through the real services."""

from __future__ import annotations

import sqlalchemy as sa
from argon2 import PasswordHasher

from core.controlplane import make_engine, users
from tests.conftest import StackFactory
from tests.support.services import Broker
from tests.test_faults import wire_calls
from tests.test_pipeline_e2e import upload


def test_keys_codes_tokens_and_tracking(make_stack: StackFactory, broker: Broker) -> None:
    # no device cache: a tracking change applies to the very next upload
    stack = make_stack(broker.bootstrap, env={"CLOSECALL_DEVICE_CACHE_TTL_S": "0"})
    company = stack.signup("Keys", timezone="Europe/Berlin")
    auth = {"Authorization": f"Bearer {company['api_key']}"}

    # passwords are argon2 hashes, never the password
    engine = make_engine(stack.env["CLOSECALL_DATABASE_URL"])
    with engine.connect() as conn:
        stored = conn.execute(sa.select(users.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$")
    assert PasswordHasher().verify(stored, "correct horse battery staple")

    duplicate = stack.api.post(
        "/v1/signup",
        json={
            "company_name": "Other",
            "country": "DE",
            "email": "owner@keys.example",
            "password": "x" * 12,
        },
    )
    assert duplicate.status_code == 409
    bad = stack.api.post(
        "/v1/signup",
        json={
            "company_name": "B",
            "country": "XX",
            "email": "nope",
            "password": "short",
            "timezone": "Mars/Base",
        },
    )
    assert bad.status_code == 422
    assert {f["path"] for f in bad.json()["error"]["fields"]} == {
        "country",
        "email",
        "password",
        "timezone",
    }

    # API keys: the secret once, listed without it, revocation effective at once
    created = stack.api.post("/v1/api-keys", json={"name": "zapier"}, headers=auth)
    assert created.status_code == 201
    second = {"Authorization": f"Bearer {created.json()['secret']}"}
    listed = stack.api.get("/v1/api-keys", headers=second).json()["items"]
    assert [k["name"] for k in listed] == ["signup", "zapier"]
    assert "secret" not in listed[1]
    assert stack.api.delete(f"/v1/api-keys/{created.json()['id']}", headers=auth).status_code == 204
    assert stack.api.get("/v1/employees", headers=second).status_code == 401
    assert stack.api.get("/v1/employees").json()["error"]["code"] == "unauthenticated"

    # enrollment codes are single use; re-enrolling a device revokes its earlier token
    employee = stack.api.post(
        "/v1/employees", json={"name": "Eva", "team": "North"}, headers=auth
    ).json()
    code = stack.api.post(f"/v1/employees/{employee['id']}/enrollment-codes", headers=auth).json()[
        "code"
    ]
    device = {"device_id": "pixel-1", "model": "Pixel 8", "sdk_int": 34}
    first = stack.ingest.post("/v1/devices/enroll", json={"code": code, "device": device})
    assert first.status_code == 201
    reused = stack.ingest.post("/v1/devices/enroll", json={"code": code, "device": device})
    assert reused.status_code == 401
    assert reused.json()["error"]["fields"][0]["path"] == "code"
    again = stack.api.post(f"/v1/employees/{employee['id']}/enrollment-codes", headers=auth).json()
    second_enrol = stack.ingest.post(
        "/v1/devices/enroll",
        json={"code": again["code"].replace("-", "").lower(), "device": device},
    )
    assert second_enrol.status_code == 201
    assert second_enrol.json()["device_id"] == first.json()["device_id"]
    calls = wire_calls(3, "e-")
    assert upload(stack, first.json()["device_token"], calls).status_code == 401
    token = second_enrol.json()["device_token"]
    assert upload(stack, token, calls).status_code == 202

    # tracking disabled: that employee's uploads are refused with 403
    patched = stack.api.patch(
        f"/v1/employees/{employee['id']}", json={"tracking_enabled": False}, headers=auth
    )
    assert patched.json()["tracking_enabled"] is False and patched.json()["team"] == "North"
    refused = upload(stack, token, calls)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "tracking_disabled"
