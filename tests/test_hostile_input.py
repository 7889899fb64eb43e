"""Values that once answered 500 (or reset the connection) now answer a 4xx in the error shape
that names the field; security headers; enrolment and offboarding rules."""

from __future__ import annotations

import base64
import gzip
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import StackFactory
from tests.support.services import Broker
from tests.support.stack import Stack, eventually
from tests.test_faults import enrolled, wire_calls
from tests.test_pipeline_e2e import history, summary
from tests.test_report_api import ENDPOINTS


def cursor(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode()


BAD_QUERIES: list[tuple[dict[str, str], str]] = [
    ({"tz": "A" * 300}, "tz"),
    ({"tz": "right/UTC"}, "tz"),
    ({"tz": "../../etc/passwd"}, "tz"),
    ({"to": "9999-12-31"}, "to"),
    ({"from": "0001-01-01"}, "from"),
    ({"from": "1969-07-20T20:17:00+00:00"}, "from"),
    ({"to": "2026-03-02T10:00:00+00:00" + "0" * 100}, "to"),
]
BAD_CURSORS = [
    cursor('[Infinity, "x"]'),
    cursor("[" * 100_000 + "]" * 100_000)[:4000],
    cursor("[" * 300 + "]" * 300),
    cursor('[1e400, "x"]'),
    cursor(f'[{10**30}, "x"]'),
    cursor('[-1000000000000, "x"]'),
    cursor(f'[{2**32}, "x"]'),
    cursor(f'[{2**64}, "x"]'),
    cursor('[true, "x"]'),
    cursor('{"a": 1}'),
    "%%%",
]


@pytest.fixture(scope="module")
def tenant(module_stack: Stack) -> tuple[Stack, dict[str, str], str]:
    key, token = enrolled(module_stack, "Hostile")
    return module_stack, {"Authorization": f"Bearer {key}"}, token


def assert_names(answer: httpx.Response, field: str) -> None:
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_request" and field in [f["path"] for f in error["fields"]]


@pytest.mark.parametrize("route", [*(f"/v1/reports/{r}" for r in ENDPOINTS), "/v1/calls"])
def test_bad_query_values_are_422_on_every_report_route(
    tenant: tuple[Stack, dict[str, str], str], route: str
) -> None:
    stack, auth, _ = tenant
    for params, field in BAD_QUERIES:
        assert_names(stack.api.get(route, params=params, headers=auth), field)
    if route.endswith(("summary", "employees", "analytics")):
        return  # no paging
    for value in BAD_CURSORS:
        assert_names(stack.api.get(route, params={"cursor": value}, headers=auth), "cursor")
    assert stack.api.get("/readyz").status_code == 200  # the process is still there


def test_calls_check_employees_and_answer_in_the_report_zone(
    tenant: tuple[Stack, dict[str, str], str],
) -> None:
    stack, auth, token = tenant
    other_key, _ = enrolled(stack, "Elsewhere")
    other = stack.api.get("/v1/employees", headers={"Authorization": f"Bearer {other_key}"})
    for employee_id in (other.json()["items"][0]["id"], "not-an-id"):
        answer = stack.api.get("/v1/calls", params={"employee_id": employee_id}, headers=auth)
        assert_names(answer, "employee_id")
    calls = wire_calls(3, "tz-")
    sent = stack.ingest.post(
        "/v1/calls", json={"calls": calls}, headers={"Authorization": f"Bearer {token}"}
    )
    assert sent.status_code == 202
    key = auth["Authorization"].split()[1]
    eventually(lambda: len(history(stack, key)) == 3)
    assert all(item["started_at"].endswith("+05:30") for item in history(stack, key))  # IN
    in_berlin = history(stack, key, tz="Europe/Berlin")
    assert all(item["started_at"].endswith(("+01:00", "+02:00")) for item in in_berlin)
    assert all(item["synced_at"].endswith(("+01:00", "+02:00")) for item in in_berlin)


def post_raw(stack: Stack, token: str, raw: bytes, **headers: str) -> httpx.Response:
    return stack.ingest.post(
        "/v1/calls",
        content=raw,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json", **headers},
    )


def test_hostile_bodies_are_4xx_at_ingest(tenant: tuple[Stack, dict[str, str], str]) -> None:
    stack, auth, token = tenant
    for raw in (b"[" * 500_000, b'{"calls": [' + b"9" * 5000 + b"]}", b'{"calls": [NaN]}'):
        answer = post_raw(stack, token, raw)
        assert answer.status_code == 422 and answer.json()["error"]["code"] == "invalid_json"
    code = stack.api.post(
        f"/v1/employees/{stack.api.get('/v1/employees', headers=auth).json()['items'][0]['id']}"
        "/enrollment-codes",
        headers=auth,
    ).json()["code"]
    device = {"device_id": "hw-big", "app_version_code": 10**30}
    answer = stack.ingest.post("/v1/devices/enroll", json={"code": code, "device": device})
    assert_names(answer, "device.app_version_code")


def test_every_gzip_member_is_read(tenant: tuple[Stack, dict[str, str], str]) -> None:
    stack, _auth, token = tenant
    calls = wire_calls(4, "gz-")
    body = json.dumps({"calls": calls}).encode()
    two_members = gzip.compress(body[:40]) + gzip.compress(body[40:])
    answer = post_raw(stack, token, two_members, **{"Content-Encoding": "gzip"})
    assert answer.status_code == 202 and answer.json()["accepted"] == 4, answer.text


def test_security_headers_and_allow(tenant: tuple[Stack, dict[str, str], str]) -> None:
    stack, auth, _ = tenant
    for answer in (
        stack.api.get("/v1/reports/summary", headers=auth),
        stack.ingest.get("/healthz"),
        stack.api.get("/v1/nothing-here"),
    ):
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["cache-control"] == "no-store"
        assert "server" not in answer.headers
        assert "access-control-allow-origin" not in answer.headers
    wrong = stack.api.put("/v1/reports/summary", headers=auth)
    assert wrong.status_code == 405 and wrong.headers["allow"] == "GET"
    assert wrong.json()["error"]["code"] == "method_not_allowed"
    preflight = stack.api.options(
        "/v1/calls",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in preflight.headers


def test_cors_origins_and_signup_throttle(make_stack: StackFactory, broker: Broker) -> None:
    stack = make_stack(
        broker.bootstrap,
        env={
            "CLOSECALL_CORS_ORIGINS": "https://crm.example",
            "CLOSECALL_SIGNUP_BURST": "2",
            "CLOSECALL_SIGNUP_INTERVAL_S": "3600",
        },
    )
    preflight = stack.api.options(
        "/v1/calls",
        headers={"Origin": "https://crm.example", "Access-Control-Request-Method": "GET"},
    )
    assert preflight.headers["access-control-allow-origin"] == "https://crm.example"
    stack.signup("First")
    stack.signup("Second")
    body = {"company_name": "Third", "country": "IN", "email": "o@third.example"}
    third = stack.api.post("/v1/signup", json={**body, "password": "correct horse battery"})
    assert third.status_code == 429 and int(third.headers["retry-after"]) > 0
    assert third.json()["error"]["code"] == "rate_limited"


def code_for(stack: Stack, auth: dict[str, str], employee_id: str) -> httpx.Response:
    return stack.api.post(f"/v1/employees/{employee_id}/enrollment-codes", headers=auth)


def enrol(stack: Stack, code: str, hardware_id: str) -> httpx.Response:
    device = {"device_id": hardware_id, "brand": "Samsung", "model": "A54"}
    return stack.ingest.post("/v1/devices/enroll", json={"code": code, "device": device})


def employee(stack: Stack, auth: dict[str, str], name: str) -> dict[str, Any]:
    created = stack.api.post("/v1/employees", json={"name": name}, headers=auth)
    assert created.status_code == 201
    result: dict[str, Any] = created.json()
    return result


def test_enrolment_rules(module_stack: Stack) -> None:
    stack = module_stack
    key = stack.signup("Enrolment")["api_key"]
    auth = {"Authorization": f"Bearer {key}"}
    asha, ravi = employee(stack, auth, "Asha"), employee(stack, auth, "Ravi")
    phone = enrol(stack, code_for(stack, auth, asha["id"]).json()["code"], "asha-phone")
    assert phone.status_code == 201
    asha_token = {"Authorization": f"Bearer {phone.json()['device_token']}"}

    # an insider with a code of their own cannot take a colleague's phone record over
    ravi_code = code_for(stack, auth, ravi["id"]).json()["code"]
    taken = enrol(stack, ravi_code, "asha-phone")
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "device_enrolled_elsewhere"
    assert stack.ingest.post("/v1/calls", json={"calls": []}, headers=asha_token).status_code == 202
    assert enrol(stack, ravi_code, "ravi-phone").status_code == 201  # the code was not used up

    # a disabled employee gets no code, and a code issued before cannot enrol
    late_code = code_for(stack, auth, asha["id"]).json()["code"]
    off = {"tracking_enabled": False}
    assert stack.api.patch(f"/v1/employees/{asha['id']}", json=off, headers=auth).is_success
    refused = code_for(stack, auth, asha["id"])
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "tracking_disabled"
    assert enrol(stack, late_code, "asha-2").json()["error"]["code"] == "tracking_disabled"

    # a revoked phone stops working and may then enrol for someone else
    device_id = phone.json()["device_id"]
    assert stack.api.delete(f"/v1/devices/{device_id}", headers=auth).status_code == 204
    listed = stack.api.get("/v1/devices", headers=auth).json()["items"]
    assert device_id not in [d["id"] for d in listed]
    all_devices = stack.api.get("/v1/devices", params={"revoked": "true"}, headers=auth)
    assert [
        d["revoked_at"] is not None for d in all_devices.json()["items"] if d["id"] == device_id
    ] == [True]
    eventually(
        lambda: (
            stack.ingest.post("/v1/calls", json={"calls": []}, headers=asha_token).status_code
            == 401
        ),
        15,
    )
    second = code_for(stack, auth, ravi["id"]).json()["code"]
    assert enrol(stack, second, "asha-phone").status_code == 201
    assert stack.api.delete("/v1/devices/no-such-device", headers=auth).status_code == 404


def test_archiving_an_employee_keeps_history(module_stack: Stack) -> None:
    stack = module_stack
    key, token = enrolled(stack, "Leaver")
    auth = {"Authorization": f"Bearer {key}"}
    device = {"Authorization": f"Bearer {token}"}
    assert (
        stack.ingest.post(
            "/v1/calls", json={"calls": wire_calls(5, "l-")}, headers=device
        ).status_code
        == 202
    )
    eventually(
        lambda: (
            summary(stack, key, **{"from": "2026-03-02", "to": "2026-03-02"})["total_calls"] == 5
        )
    )
    leaver = stack.api.get("/v1/employees", headers=auth).json()["items"][0]
    assert stack.api.delete(f"/v1/employees/{leaver['id']}", headers=auth).status_code == 204
    assert stack.api.get("/v1/employees", headers=auth).json()["items"] == []
    archived = stack.api.get("/v1/employees", params={"archived": "true"}, headers=auth).json()
    assert archived["items"][0]["archived_at"] is not None
    assert code_for(stack, auth, leaver["id"]).status_code == 403
    assert stack.api.get("/v1/devices", headers=auth).json()["items"] == []
    eventually(
        lambda: (
            stack.ingest.post("/v1/calls", json={"calls": []}, headers=device).status_code == 401
        ),
        15,
    )
    assert len(history(stack, key)) == 5
    day = {"from": "2026-03-02", "to": "2026-03-02"}
    report = stack.api.get("/v1/reports/employees", params=day, headers=auth).json()["items"]
    assert [row["employee_id"] for row in report] == [leaver["id"]]
    quiet = {"from": "2026-03-05", "to": "2026-03-05"}
    assert stack.api.get("/v1/reports/employees", params=quiet, headers=auth).json()["items"] == []


def test_both_services_say_the_release_they_run(
    tenant: tuple[Stack, dict[str, str], str],
) -> None:
    stack, _auth, _ = tenant
    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    for service in (stack.ingest, stack.api):
        answer = service.get("/version")
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"version": project["project"]["version"]}
        assert re.fullmatch(r"\d+\.\d+\.\d+", answer.json()["version"])  # semantic
