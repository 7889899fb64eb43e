"""A team-limited manager sees exactly the company's reports filtered by their teams'
employees, for any assignment of employees to teams (property-based, over the real stack)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.policy import COMPANY_WIDE, POLICY, Role
from tests.support.smtp import Inbox
from tests.support.stack import Stack, eventually
from tests.test_faults import wire_calls
from tests.test_pipeline_e2e import upload
from tests.test_sign_in import PASSWORD, bearer, login
from tests.test_users_and_mail import token_in

DAY = {"from": "2026-03-02", "to": "2026-03-02"}
NAMES = ("Asha", "Ravi", "Meera")


def answer(stack: Stack, auth: dict[str, str], path: str, **params: Any) -> Any:
    got = stack.api.get(path, params={**DAY, **params}, headers=auth)
    assert got.status_code == 200, got.text
    return got.json()


def history_ids(stack: Stack, auth: dict[str, str], **params: Any) -> list[str]:
    items = answer(stack, auth, "/v1/calls", limit=1000, **params)["items"]
    return [item["id"] for item in items]


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
@given(
    placement=st.lists(st.sampled_from(["north", "south", "west"]), min_size=3, max_size=3),
    teams=st.lists(st.sampled_from(["north", "south", "west"]), min_size=1, max_size=2),
)
def test_a_team_limited_manager_sees_their_teams_only(
    mailed: tuple[Stack, Inbox], placement: list[str], teams: list[str]
) -> None:
    stack, inbox = mailed
    owner = prepared(stack, inbox)  # the owner's session
    staff = answer(stack, owner, "/v1/employees")["items"]
    for employee, team in zip(sorted(staff, key=lambda e: e["name"]), placement, strict=True):
        changed = stack.api.patch(
            f"/v1/employees/{employee['id']}", json={"team": team}, headers=owner
        )
        assert changed.is_success
    users = answer(stack, owner, "/v1/users")["items"]
    manager_id = next(u["id"] for u in users if u["role"] == "manager")
    assert stack.api.patch(
        f"/v1/users/{manager_id}", json={"teams": teams}, headers=owner
    ).is_success
    manager = bearer(login(stack, "lead@teams.example", PASSWORD).json()["access_token"])

    visible = sorted(
        e["id"]
        for e, t in zip(sorted(staff, key=lambda e: e["name"]), placement, strict=True)
        if t in teams
    )
    lead_owners = [lead["employee_id"] for lead in answer(stack, manager, "/v1/leads")["items"]]
    assert sorted(lead_owners) == visible  # one lead per employee
    mine = answer(stack, manager, "/v1/reports/summary")
    theirs_employees = answer(stack, manager, "/v1/reports/employees")["items"]
    assert sorted(e["id"] for e in answer(stack, manager, "/v1/employees")["items"]) == visible
    counted = {t: placement.count(t) for t in sorted(set(placement))}
    assert answer(stack, owner, "/v1/teams")["items"] == [
        {"name": t, "employees": n} for t, n in counted.items()
    ]
    assert answer(stack, manager, "/v1/teams")["items"] == [
        {"name": t, "employees": n} for t, n in counted.items() if t in teams
    ]
    if not visible:
        assert mine["total_calls"] == 0 and theirs_employees == []
        assert history_ids(stack, manager) == []
        return
    filtered = {"employee_id": visible}
    assert mine == answer(stack, owner, "/v1/reports/summary", **filtered)
    assert theirs_employees == answer(stack, owner, "/v1/reports/employees", **filtered)["items"]
    assert history_ids(stack, manager) == history_ids(stack, owner, **filtered)
    assert answer(stack, manager, "/v1/reports/leads") == answer(
        stack, owner, "/v1/reports/leads", **filtered
    )
    outside = sorted({e["id"] for e in staff} - set(visible))
    if outside:  # another team's employee is unknown to the manager
        refused = stack.api.get("/v1/calls", params={"employee_id": outside[0]}, headers=manager)
        assert refused.status_code == 422


PREPARED: dict[int, dict[str, str]] = {}


def prepared(stack: Stack, inbox: Inbox) -> dict[str, str]:
    """Once per stack: a company with three employees' calls and an invited manager."""
    if id(stack) in PREPARED:
        return PREPARED[id(stack)]
    key = stack.signup("Teams", plan="basic_lead")["api_key"]
    for n, name in enumerate(NAMES):
        device = stack.enrolled_device(key, name, f"hw-{n}")
        assert upload(stack, device["device_token"], wire_calls(40, f"{name}-")).status_code == 202
        lead = {"primary_number": f"+9199000000{n:02d}", "employee_id": device["employee_id"]}
        assert stack.api.post("/v1/leads", json=lead, headers=bearer(key)).status_code == 201
    owner = bearer(login(stack, "owner@teams.example").json()["access_token"])
    invited = stack.api.post(
        "/v1/users", json={"email": "lead@teams.example", "role": "manager"}, headers=owner
    )
    assert invited.status_code == 201
    token = token_in(eventually(lambda: inbox.to("lead@teams.example"), 10)[0])
    accepted = stack.api.post("/v1/auth/accept-invite", json={"token": token, "password": PASSWORD})
    assert accepted.status_code == 204
    eventually(lambda: answer(stack, bearer(key), "/v1/reports/summary")["total_calls"] == 120, 60)
    PREPARED[id(stack)] = owner
    return owner


def employee_ids_in(document: Any, known: set[str]) -> set[str]:
    """Every employee id of `known` anywhere in a JSON document."""
    if isinstance(document, dict):
        return set().union(*(employee_ids_in(v, known) for v in document.values()))
    if isinstance(document, list):
        return set().union(*(employee_ids_in(v, known) for v in document))
    return {document} & known if isinstance(document, str) else set()


def test_a_team_limited_admin_reaches_no_other_team(mailed: tuple[Stack, Inbox]) -> None:
    """Every route that reads calls, with `reveal=true` where it takes it, answers a team-limited
    admin its teams' employees only; what reaches every team (keys, hooks) is refused."""
    stack, inbox = mailed
    owner = prepared(stack, inbox)
    staff = answer(stack, owner, "/v1/employees")["items"]
    known = {e["id"] for e in staff}
    mine = next(e["id"] for e in staff if e["name"] == "Asha")
    for employee in staff:
        team = "north" if employee["id"] == mine else "south"
        assert stack.api.patch(
            f"/v1/employees/{employee['id']}", json={"team": team}, headers=owner
        ).is_success
    users = answer(stack, owner, "/v1/users")["items"]
    user_id = next(u["id"] for u in users if u["email"] == "lead@teams.example")
    limited = {"role": "admin", "teams": ["north"]}
    assert stack.api.patch(f"/v1/users/{user_id}", json=limited, headers=owner).is_success
    admin = bearer(login(stack, "lead@teams.example", PASSWORD).json()["access_token"])
    other_call = next(
        c
        for c in answer(stack, owner, "/v1/calls", reveal="true", limit=1000)["items"]
        if c["employee_id"] != mine
    )
    params = {**DAY, "reveal": "true", "number": other_call["number"]}
    read = 0
    for (method, path), role in POLICY.items():
        if method != "GET" or "{" in path or role is None or role > Role.admin:
            continue
        got = stack.api.get(path, params=params, headers=admin)
        if (method, path) in COMPANY_WIDE:
            assert got.status_code == 403 and got.json()["error"]["code"] == "team_limited"
            continue
        assert got.status_code == 200, (path, got.text)
        assert employee_ids_in(got.json(), known) <= {mine}, path
        read += 1
    assert read >= 15  # reports, history, triggers, leads, devices, employees, the export
    export = stack.api.get("/v1/privacy/export", params=params, headers=admin).json()
    assert export["calls"] == [] and export["leads"] == []
    for path, body in (("/v1/api-keys", {"role": "viewer"}), ("/v1/hooks", {})):
        refused = stack.api.post(path, json=body, headers=admin)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "team_limited"
