"""The declared policy (api/policy.py) holds for every route of the report API: each role may
call what its role or a lower one needs and gets 403 `forbidden` naming the role otherwise; an
API key is never owner; a route missing from the policy cannot be served."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from api.policy import KEY_ROLES, POLICY, PUBLIC, Role, UndeclaredRoute, check_policy
from deploy.api_reference import openapi_documents
from tests.conftest import shared_stack
from tests.support.services import Broker
from tests.support.smtp import Inbox, smtp_server
from tests.support.stack import Stack, eventually
from tests.test_sign_in import PASSWORD, bearer, login
from tests.test_users_and_mail import token_in


@pytest.fixture(scope="module")
def role_stack(
    broker: Broker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Stack, Inbox]]:
    with smtp_server() as (url, inbox):
        for stack in shared_stack(broker, tmp_path_factory, {"CLOSECALL_SMTP_URL": url}):
            yield stack, inbox


@pytest.fixture(scope="module")
def callers(role_stack: tuple[Stack, Inbox]) -> dict[str, tuple[Role, str]]:
    """A credential of every kind: API keys of each key role, the owner's session and the
    session of a manager limited to one team; each with the role it acts with."""
    stack, inbox = role_stack
    owner_key = stack.signup("Roles", plan="basic_lead")["api_key"]
    made: dict[str, tuple[Role, str]] = {}
    for role in KEY_ROLES:
        created = stack.api.post(
            "/v1/api-keys", json={"name": role.name, "role": role.name}, headers=bearer(owner_key)
        )
        assert created.status_code == 201 and created.json()["role"] == role.name
        made[f"{role.name} key"] = (role, created.json()["secret"])
    owner = login(stack, "owner@roles.example").json()["access_token"]
    made["owner session"] = (Role.owner, owner)
    invited = stack.api.post(
        "/v1/users",
        json={"email": "lead@roles.example", "role": "manager", "teams": ["north"]},
        headers=bearer(owner),
    )
    assert invited.status_code == 201
    token = token_in(eventually(lambda: inbox.to("lead@roles.example"), 10)[0])
    accept = {"token": token, "password": PASSWORD}
    assert stack.api.post("/v1/auth/accept-invite", json=accept).status_code == 204
    lead = login(stack, "lead@roles.example").json()["access_token"]
    made["team-limited manager session"] = (Role.manager, lead)
    return made


def call(stack: Stack, method: str, path: str, key: str) -> httpx.Response:
    url = path.replace("{", "").replace("}", "")  # ids that do not exist: 404, never 5xx
    body: dict[str, Any] | None = {} if method in ("POST", "PATCH") else None
    return stack.api.request(method, url, json=body, headers={"Authorization": f"Bearer {key}"})


def test_every_documented_route_has_a_declared_role() -> None:
    document = openapi_documents()["report-api"]
    documented = {(m.upper(), p) for p, ops in document["paths"].items() for m in ops}
    assert documented <= set(POLICY), documented - set(POLICY)


@pytest.mark.parametrize(
    ("method", "path"), [route for route, role in POLICY.items() if role is not PUBLIC]
)
def test_each_role_gets_exactly_what_the_policy_allows(
    role_stack: tuple[Stack, Inbox], callers: dict[str, tuple[Role, str]], method: str, path: str
) -> None:
    needed = POLICY[(method, path)]
    assert needed is not None
    if (method, path) in (("POST", "/v1/auth/logout"), ("DELETE", "/v1/auth/session")):
        return  # would end the session the other routes use; tests/test_sign_in.py covers it
    for name, (role, credential) in callers.items():
        answer = call(role_stack[0], method, path, credential)
        if role >= needed:
            assert answer.status_code != 401 and answer.status_code < 500, (name, answer.text)
            if answer.status_code == 403:  # e.g. a session-only route called with a key
                assert answer.json()["error"]["code"] != "forbidden", (name, answer.text)
        else:
            assert answer.status_code == 403, (name, answer.text)
            error = answer.json()["error"]
            assert error["code"] == "forbidden" and needed.name in error["message"]


def test_an_api_key_is_never_owner(
    role_stack: tuple[Stack, Inbox], callers: dict[str, tuple[Role, str]]
) -> None:
    auth = bearer(callers["owner session"][1])
    made = role_stack[0].api.post("/v1/api-keys", json={"name": "x", "role": "owner"}, headers=auth)
    assert made.status_code == 422 and made.json()["error"]["fields"][0]["path"] == "role"


def test_me_names_the_company_and_the_key(
    role_stack: tuple[Stack, Inbox], callers: dict[str, tuple[Role, str]]
) -> None:
    auth = bearer(callers["viewer key"][1])
    me = role_stack[0].api.get("/v1/me", headers=auth).json()
    assert me["company"]["name"] == "Roles" and me["company"]["status"] == "active"
    assert me["api_key"]["role"] == "viewer" and me["user"] is None


def test_a_route_without_a_declared_role_cannot_be_served() -> None:
    app = FastAPI()
    router = APIRouter()

    @router.get("/v1/undeclared")
    def undeclared() -> dict[str, str]:
        return {}

    app.include_router(router)
    with pytest.raises(UndeclaredRoute, match="GET /v1/undeclared"):
        check_policy(app)


def test_a_protected_route_must_authenticate() -> None:
    app = FastAPI()

    @app.get("/v1/calls")  # declared viewer, but takes no tenant
    def calls() -> dict[str, str]:
        return {}

    with pytest.raises(UndeclaredRoute, match="takes no tenant"):
        check_policy(app)


def test_ingest_routes_are_for_devices_only() -> None:
    """The other document: a device token or nothing (enrolment, health); no role applies."""
    public = {
        ("post", "/v1/devices/enroll"),
        ("get", "/healthz"),
        ("get", "/version"),
        ("get", "/readyz"),
        ("get", "/metrics"),  # the operator's Prometheus: aggregates only
    }
    for path, operations in openapi_documents()["ingest"]["paths"].items():
        for method, operation in operations.items():
            expected: list[dict[str, list[str]]] = (
                [] if (method, path) in public else [{"DeviceToken": []}]
            )
            assert operation.get("security", []) == expected, (method, path)
