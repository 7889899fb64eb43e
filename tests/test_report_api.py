"""The report endpoints over HTTP: every one answers with its range, bad parameters get a 422
that names the field, lists page with cursors."""

from __future__ import annotations

import pytest

from tests.support.stack import Stack, eventually
from tests.test_faults import enrolled, wire_calls
from tests.test_pipeline_e2e import summary, upload

ENDPOINTS = [
    "summary",
    "employees",
    "analytics",
    "never-attended",
    "not-picked-up",
    "customers",
    "working-hours",
]


CALLS = wire_calls(300, "r-")


@pytest.fixture(scope="module")
def loaded(module_stack: Stack) -> tuple[Stack, str, str]:
    key, token = enrolled(module_stack, "Reports")
    assert upload(module_stack, token, CALLS).status_code == 202
    eventually(lambda: summary(module_stack, key)["total_calls"] == 300)
    other_key, _ = enrolled(module_stack, "Stranger")
    stranger = module_stack.api.get(
        "/v1/employees", headers={"Authorization": f"Bearer {other_key}"}
    )
    return module_stack, key, stranger.json()["items"][0]["id"]


def test_report_endpoints(loaded: tuple[Stack, str, str]) -> None:
    stack, key, _ = loaded
    auth = {"Authorization": f"Bearer {key}"}
    day = {"from": "2026-03-02", "to": "2026-03-02"}
    expected_range = {
        "from": "2026-03-02T00:00:00+05:30",
        "to": "2026-03-03T00:00:00+05:30",
        "tz": "Asia/Kolkata",
    }
    for endpoint in ENDPOINTS:
        answer = stack.api.get(f"/v1/reports/{endpoint}", params=day, headers=auth)
        assert answer.status_code == 200, (endpoint, answer.text)
        assert answer.json()["range"] == expected_range, endpoint

    working = stack.api.get("/v1/reports/working-hours", params=day, headers=auth).json()
    assert working["next_cursor"] is None and len(working["items"]) == 1
    assert working["team"]["employee_days"] == 1

    hours = stack.api.get(
        "/v1/reports/analytics", params={**day, "group_by": "hour"}, headers=auth
    ).json()
    assert len(hours["series"]) == 24 and sum(b["total_calls"] for b in hours["series"]) == 300

    pages, cursor = [], None
    while True:
        params: dict[str, str | int] = {**day, "limit": 7, **({"cursor": cursor} if cursor else {})}
        page = stack.api.get("/v1/reports/customers", params=params, headers=auth).json()
        pages.append(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    customers = [item for items in pages for item in items]
    assert len(pages) > 2 and len({c["number"] for c in customers}) == len(customers) == 50
    assert sum(c["total_calls"] for c in customers) == 300 - summary(stack, key)[
        "total_calls"
    ] + sum(c["total_calls"] for c in customers)  # every customer once
    with_sla = stack.api.get(
        "/v1/reports/never-attended", params={**day, "callback_within_h": 2}, headers=auth
    ).json()
    assert all("unanswered_count" in item for item in with_sla["items"])


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"tz": "Mars/Olympus"}, "tz"),
        ({"from": "2026-03-05", "to": "2026-03-01"}, "from"),
        ({"from": "2025-01-01", "to": "2026-03-01"}, "to"),
        ({"type": "fax"}, "type"),
        ({"group_by": "month"}, "group_by"),
        ({"callback_within_h": 0}, "callback_within_h"),
        ({"cursor": "garbage"}, "cursor"),
    ],
)
def test_bad_parameters_name_the_field(
    loaded: tuple[Stack, str, str], params: dict[str, str | int], field: str
) -> None:
    stack, key, _ = loaded
    endpoint = "analytics" if "group_by" in params else "never-attended"
    answer = stack.api.get(
        f"/v1/reports/{endpoint}", params=params, headers={"Authorization": f"Bearer {key}"}
    )
    assert answer.status_code == 422, answer.text
    assert field in [f["path"] for f in answer.json()["error"]["fields"]]


def test_another_companys_employee_is_a_422(loaded: tuple[Stack, str, str]) -> None:
    stack, key, stranger_employee = loaded
    for endpoint in ENDPOINTS:
        answer = stack.api.get(
            f"/v1/reports/{endpoint}",
            params={"employee_id": stranger_employee},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert answer.status_code == 422, endpoint
        assert answer.json()["error"]["fields"] == [
            {"path": "employee_id", "message": f"unknown employee {stranger_employee}"}
        ]
