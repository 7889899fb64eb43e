"""Revealed numbers and the audit log through the real stack: E.164 for admin only, one
entry per reveal with the count and filter but never a number, append-only entries."""

from __future__ import annotations

import pytest

from deploy.api_reference import openapi_documents
from tests.support.stack import Stack, eventually
from tests.test_faults import enrolled, wire_calls
from tests.test_pipeline_e2e import history, upload
from tests.test_sign_in import bearer, login


@pytest.fixture(scope="module")
def company(module_stack: Stack) -> dict[str, str]:
    key, token = enrolled(module_stack, "Audited")
    assert upload(module_stack, token, wire_calls(30, "a-")).status_code == 202
    eventually(lambda: len(history(module_stack, key)) == 30)
    keys = {"admin": key}
    for role in ("manager", "viewer"):
        made = module_stack.api.post(
            "/v1/api-keys", json={"name": role, "role": role}, headers=bearer(key)
        )
        keys[role] = made.json()["secret"]
    return keys


def test_reveal_is_for_admin_and_audited(module_stack: Stack, company: dict[str, str]) -> None:
    stack = module_stack
    for role in ("manager", "viewer"):
        refused = stack.api.get("/v1/calls?reveal=true", headers=bearer(company[role]))
        assert refused.status_code == 403 and "admin" in refused.json()["error"]["message"]
    masked = history(stack, company["admin"])
    revealed = stack.api.get(
        "/v1/calls", params={"reveal": "true", "type": "missed"}, headers=bearer(company["admin"])
    ).json()["items"]
    numbers = [item["number"] for item in revealed if item["number"]]
    assert numbers and all(n.startswith("+") and "*" not in n for n in numbers)
    by_id = {item["id"]: item["number"] for item in masked}
    for item in revealed:
        if item["number"]:
            shown = by_id[item["id"]]
            assert shown[:3] == item["number"][:3] and shown[-4:] == item["number"][-4:]
    log = stack.api.get("/v1/audit", headers=bearer(company["admin"]))
    assert log.status_code == 200
    reveals = [e for e in log.json()["items"] if e["action"] == "numbers.revealed"]
    assert len(reveals) == 1 and reveals[0]["actor"]["type"] == "api_key"
    assert reveals[0]["details"] == {
        "count": len(numbers),
        "filter": {"type": ["missed"]},
        "by_number": False,
    }
    assert not [n for n in numbers if n in log.text or n.lstrip("+") in log.text]


@pytest.mark.parametrize("path", ["customers", "never-attended", "not-picked-up"])
def test_every_client_list_reveals_for_an_admin_once_audited(
    module_stack: Stack, company: dict[str, str], path: str
) -> None:
    stack, target = module_stack, f"/v1/reports/{path}"
    day = {"from": "2026-03-02", "to": "2026-03-02"}  # the day wire_calls fill
    params = {**day, "reveal": "true"}
    assert (
        stack.api.get(target, params=params, headers=bearer(company["manager"])).status_code == 403
    )
    masked = stack.api.get(target, params=day, headers=bearer(company["admin"])).json()["items"]
    shown = stack.api.get(target, params=params, headers=bearer(company["admin"])).json()["items"]
    assert len(shown) == len(masked) > 0
    for plain, hidden in zip(shown, masked, strict=True):
        assert plain["number"].startswith("+") and "*" not in plain["number"]
        assert "*" in hidden["number"] and plain["number"][-4:] == hidden["number"][-4:]
    log = stack.api.get("/v1/audit", headers=bearer(company["admin"])).json()["items"]
    entries = [e for e in log if e["action"] == "numbers.revealed" and e["target"] == target]
    assert len(entries) == 1 and entries[0]["details"]["count"] == len(shown)


def test_the_log_holds_keys_and_failed_logins_and_pages(
    module_stack: Stack, company: dict[str, str]
) -> None:
    stack = module_stack
    assert login(stack, "owner@audited.example", "a wrong password here").status_code == 401
    assert stack.api.get("/v1/audit", headers=bearer(company["viewer"])).status_code == 403
    admin = bearer(company["admin"])
    actions = [e["action"] for e in stack.api.get("/v1/audit", headers=admin).json()["items"]]
    assert actions.count("api_key.created") == 2 and "login.failed" in actions
    keys = stack.api.get("/v1/api-keys", headers=admin).json()["items"]
    viewer_key = next(k["id"] for k in keys if k["role"] == "viewer")
    assert stack.api.delete(f"/v1/api-keys/{viewer_key}", headers=admin).status_code == 204
    latest = stack.api.get("/v1/audit", params={"limit": 1}, headers=admin).json()["items"][0]
    assert (latest["action"], latest["target"]) == ("api_key.revoked", viewer_key)
    actions = [e["action"] for e in stack.api.get("/v1/audit", headers=admin).json()["items"]]
    first = stack.api.get("/v1/audit", params={"limit": 1}, headers=admin).json()
    assert first["next_cursor"] is not None
    rest = stack.api.get(
        "/v1/audit", params={"limit": 1000, "cursor": first["next_cursor"]}, headers=admin
    ).json()
    assert [first["items"][0]["action"], *(e["action"] for e in rest["items"])] == actions


def test_no_route_changes_or_deletes_an_entry() -> None:
    paths = openapi_documents()["report-api"]["paths"]
    audit_paths = {path: set(ops) for path, ops in paths.items() if path.startswith("/v1/audit")}
    assert audit_paths == {"/v1/audit": {"get"}}
