"""An assignment or re-assignment pushes `{"action": "leads"}` to the employee's phones through
the real firebase-admin path (FCM's URL stubbed with `responses`: FCM cannot be reached from
here), from the report API running in this process on chDB and SQLite. Also: two imports at
once keep round robin even (the company's lead lock)."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
import responses
from fastapi.testclient import TestClient

from api.app import create_app
from api.context import ApiContext
from core.clickhouse import ClickHouse
from core.controlplane import devices, make_engine, migrate
from core.settings import Settings
from tests.support.fcm import FCM_URL, PROJECT, stub_pusher


@pytest.fixture
def api(chdb_store: ClickHouse, tmp_path: Path) -> Iterator[tuple[TestClient, ApiContext]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'control.db'}")
    migrate(engine)
    settings = Settings(environment="test", data_dir=tmp_path, signup_burst=1000)
    context = ApiContext(settings, engine, chdb_store, bytes(32), stub_pusher())
    with TestClient(create_app(context)) as client:
        yield client, context
    engine.dispose()


def signed_up(client: TestClient) -> dict[str, str]:
    name = f"Push{uuid.uuid4().hex[:6]}"
    body = {
        "company_name": name,
        "country": "IN",
        "email": f"owner@{name.lower()}.example",
        "password": "correct horse battery staple",
        "plan": "basic_lead",
    }
    answer = client.post("/v1/signup", json=body)
    assert answer.status_code == 201, answer.text
    return {"Authorization": f"Bearer {answer.json()['api_key']}"}


def employee_with_phone(
    client: TestClient, context: ApiContext, auth: dict[str, str], token: str
) -> str:
    employee = client.post("/v1/employees", json={"name": token}, headers=auth).json()
    company_id = client.get("/v1/me", headers=auth).json()["company"]["id"]
    with context.engine.begin() as conn:
        conn.execute(
            devices.insert().values(
                id=str(uuid.uuid4()),
                company_id=company_id,
                employee_id=employee["id"],
                hardware_id=token,
                brand="",
                model="",
                android_version="",
                sdk_int=34,
                app_version="",
                app_version_code=1,
                fcm_token=token,
                sims="[]",
                enrolled_at=datetime.now(UTC),
            )
        )
    return str(employee["id"])


def pushed() -> list[dict[str, Any]]:
    return [json.loads(cast(bytes, call.request.body)) for call in responses.calls]


@responses.activate
def test_assignment_and_reassignment_push_leads_to_the_phones(
    api: tuple[TestClient, ApiContext],
) -> None:
    client, context = api
    responses.post(FCM_URL, json={"name": f"projects/{PROJECT}/messages/1"})
    auth = signed_up(client)
    asha = employee_with_phone(client, context, auth, "fcm-asha")
    ravi = employee_with_phone(client, context, auth, "fcm-ravi")

    made = client.post(
        "/v1/leads", json={"primary_number": "9876543210", "employee_id": asha}, headers=auth
    )
    assert made.status_code == 201, made.text
    assert pushed() == [
        {
            "message": {
                "token": "fcm-asha",
                "data": {"action": "leads"},
                "android": {"priority": "high"},
            }
        }
    ]
    assert responses.calls[0].request.headers["Authorization"] == "Bearer static-access-token"

    responses.calls.reset()
    moved = client.patch(f"/v1/leads/{made.json()['id']}", json={"employee_id": ravi}, headers=auth)
    assert moved.status_code == 200
    assert sorted(m["message"]["token"] for m in pushed()) == ["fcm-asha", "fcm-ravi"]

    responses.calls.reset()
    added = client.post(
        "/v1/numbers", json={"numbers": ["9811122233"], "employee_id": asha}, headers=auth
    )
    assert added.json()["created"] == 1 and [m["message"]["token"] for m in pushed()] == [
        "fcm-asha"
    ]


def test_two_imports_at_once_keep_round_robin_even(api: tuple[TestClient, ApiContext]) -> None:
    client = api[0]
    auth = signed_up(client)
    staff = [
        client.post("/v1/employees", json={"name": n}, headers=auth).json()["id"] for n in "ABC"
    ]

    def add(batch: int) -> int:
        numbers = [f"+91980{batch:02d}{index:05d}" for index in range(7)]
        answer = client.post("/v1/numbers", json={"numbers": numbers}, headers=auth)
        assert answer.status_code == 200, answer.text
        return int(answer.json()["created"])

    with ThreadPoolExecutor(4) as pool:
        assert sum(pool.map(add, range(8))) == 56
    leads = client.get("/v1/leads", params={"limit": 1000}, headers=auth).json()["items"]
    counts = Counter(lead["employee_id"] for lead in leads)
    assert set(counts) == set(staff) and max(counts.values()) - min(counts.values()) <= 1
