"""A second company can neither see nor touch the first one's data."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from core.company_clickhouse import NOT_ERASED, CompanyClickHouse, Hidden, UnscopedQuery
from tests.support.stack import Stack, eventually
from tests.test_faults import wire_calls
from tests.test_pipeline_e2e import history, summary, upload


def test_companies_are_isolated(chdb_stack: Stack) -> None:
    stack = chdb_stack
    alpha, beta = stack.signup("Alpha"), stack.signup("Beta")
    a_auth = {"Authorization": f"Bearer {alpha['api_key']}"}
    b_auth = {"Authorization": f"Bearer {beta['api_key']}"}
    a_device = stack.enrolled_device(alpha["api_key"], "Anil", "same-hardware")
    b_device = stack.enrolled_device(beta["api_key"], "Bela", "same-hardware")
    calls = wire_calls(50, "shared-")  # the same phone numbers and call ids in both companies
    assert upload(stack, a_device["device_token"], calls).status_code == 202
    assert upload(stack, b_device["device_token"], calls[:20]).status_code == 202
    eventually(lambda: summary(stack, alpha["api_key"])["total_calls"] == 50)
    eventually(lambda: summary(stack, beta["api_key"])["total_calls"] == 20)

    b_history = history(stack, beta["api_key"])
    assert {item["employee_id"] for item in b_history} == {b_device["employee_id"]}
    # Beta naming Alpha's employee in a report filter is told the employee is unknown
    named = stack.api.get(
        "/v1/reports/summary", params={"employee_id": a_device["employee_id"]}, headers=b_auth
    )
    assert named.status_code == 422

    a_employee = a_device["employee_id"]
    assert [e["id"] for e in stack.api.get("/v1/employees", headers=b_auth).json()["items"]] == [
        b_device["employee_id"]
    ]
    assert stack.api.get(f"/v1/employees/{a_employee}", headers=b_auth).status_code == 404
    patched = stack.api.patch(f"/v1/employees/{a_employee}", json={"name": "x"}, headers=b_auth)
    assert patched.status_code == 404
    code = stack.api.post(f"/v1/employees/{a_employee}/enrollment-codes", headers=b_auth)
    assert code.status_code == 404
    a_keys = stack.api.get("/v1/api-keys", headers=a_auth).json()["items"]
    assert stack.api.delete(f"/v1/api-keys/{a_keys[0]['id']}", headers=b_auth).status_code == 404
    assert stack.api.get("/v1/reports/summary", headers=a_auth).status_code == 200  # still valid
    assert stack.api.get(f"/v1/employees/{a_employee}", headers=a_auth).json()["name"] == "Anil"


def test_unscoped_report_query_is_refused() -> None:
    class Recorder:
        url = "memory://"
        sent: ClassVar[list[Any]] = []

        def query(self, sql: str, params: Any = None) -> list[dict[str, Any]]:
            self.sent.append((sql, params))
            return []

    scoped = CompanyClickHouse(Recorder(), "company-1")  # type: ignore[arg-type]
    with pytest.raises(UnscopedQuery):
        scoped.query("SELECT count() FROM calls")
    with pytest.raises(UnscopedQuery):  # a read of calls must leave out pending erasures
        scoped.query("SELECT count() FROM calls WHERE company_id = %(company_id)s")
    scoped.query(
        f"SELECT count() FROM calls WHERE company_id = %(company_id)s AND {NOT_ERASED}",
        {"company_id": "evil"},
    )
    hiding = CompanyClickHouse(Recorder(), "company-1", Hidden(devices=("d1",)))  # type: ignore[arg-type]
    hiding.query(f"SELECT 1 FROM calls WHERE company_id = %(company_id)s AND {NOT_ERASED}")
    sql, params = Recorder.sent[0]
    assert sql == "SELECT count() FROM calls WHERE company_id = %(company_id)s AND (1 AND 1)"
    assert params["company_id"] == "company-1"  # the caller's company, whatever was passed
    sql, params = Recorder.sent[1]  # a pending employee erasure: only the device part stays
    assert sql.endswith("AND (1 AND device_id NOT IN %(erased_devices)s)")
    assert params["erased_devices"] == ("d1",)
