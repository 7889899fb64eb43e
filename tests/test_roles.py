"""The declared policy (api/policy.py) holds for every route of the report API: each role may
call what its role or a lower one needs and gets 403 `forbidden` naming the role otherwise; an
API key is never owner; a route missing from the policy cannot be served."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from api.policy import KEY_ROLES, POLICY, PUBLIC, Role, UndeclaredRoute, check_policy
from deploy.api_reference import openapi_documents
from tests.support.stack import Stack


@pytest.fixture(scope="module")
def keys(module_stack: Stack) -> dict[Role, str]:
    owner_key = module_stack.signup("Roles")["api_key"]
    auth = {"Authorization": f"Bearer {owner_key}"}
    made = {}
    for role in KEY_ROLES:
        created = module_stack.api.post(
            "/v1/api-keys", json={"name": role.name, "role": role.name}, headers=auth
        )
        assert created.status_code == 201 and created.json()["role"] == role.name
        made[role] = created.json()["secret"]
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
    module_stack: Stack, keys: dict[Role, str], method: str, path: str
) -> None:
    needed = POLICY[(method, path)]
    assert needed is not None
    for role, key in keys.items():
        answer = call(module_stack, method, path, key)
        if role >= needed:
            assert answer.status_code != 401 and answer.status_code < 500, (role, answer.text)
            if answer.status_code == 403:  # e.g. a session-only route called with a key
                assert answer.json()["error"]["code"] != "forbidden", (role, answer.text)
        else:
            assert answer.status_code == 403, (role, answer.text)
            error = answer.json()["error"]
            assert error["code"] == "forbidden" and needed.name in error["message"]


def test_an_api_key_is_never_owner(module_stack: Stack, keys: dict[Role, str]) -> None:
    auth = {"Authorization": f"Bearer {keys[Role.admin]}"}
    made = module_stack.api.post("/v1/api-keys", json={"name": "x", "role": "owner"}, headers=auth)
    assert made.status_code == 422 and made.json()["error"]["fields"][0]["path"] == "role"


def test_me_names_the_company_and_the_key(module_stack: Stack, keys: dict[Role, str]) -> None:
    auth = {"Authorization": f"Bearer {keys[Role.viewer]}"}
    me = module_stack.api.get("/v1/me", headers=auth).json()
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
