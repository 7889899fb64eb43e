"""Find or create a lead by its number (`PUT /v1/leads/by-number/{number}`, Zapier's "Find or
Create Lead" and "Update Lead"): the same request twice, or twice at once, makes one lead and
updates it; the number is the path's, in any format."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient

from api.context import ApiContext
from tests.test_lead_push import signed_up


def test_the_same_lead_twice_and_at_once_is_one_lead(
    inprocess_api: tuple[TestClient, ApiContext],
) -> None:
    client, _ = inprocess_api
    auth = signed_up(client)
    path = "/v1/leads/by-number/+91 98111 22233"
    made = client.put(path, json={"first_name": "Asha", "company": "Acme"}, headers=auth)
    assert made.status_code == 201, made.text
    lead = made.json()
    assert (lead["primary_number"], lead["first_name"]) == ("+919811122233", "Asha")
    again = client.put(
        "/v1/leads/by-number/09811122233", json={"last_name": "Rao"}, headers=auth
    )  # the same number written as the country writes it
    assert again.status_code == 200, again.text
    assert again.json()["id"] == lead["id"]
    assert (again.json()["first_name"], again.json()["last_name"]) == ("Asha", "Rao")

    def put(n: int) -> int:
        answer = client.put(
            "/v1/leads/by-number/+919800000001", json={"first_name": f"Try {n}"}, headers=auth
        )
        return answer.status_code

    with ThreadPoolExecutor(4) as pool:
        codes = sorted(pool.map(put, range(4)))
    assert codes == [200, 200, 200, 201]  # one created, the others found it
    found = client.get("/v1/leads", params={"number": "+919800000001"}, headers=auth).json()
    assert len(found["items"]) == 1
    listed = client.get("/v1/leads", headers=auth).json()["items"]
    assert len(listed) == 2

    refused = client.put(path, json={"primary_number": "+919811100000"}, headers=auth)
    assert (refused.status_code, refused.json()["error"]["fields"][0]["path"]) == (
        422,
        "primary_number",
    )
    bad = client.put("/v1/leads/by-number/not-a-number", json={}, headers=auth)
    assert bad.status_code == 422, bad.text


def test_assigned_to_by_id_email_or_exact_name_and_a_shared_name_is_a_row_error(
    inprocess_api: tuple[TestClient, ApiContext],
) -> None:
    client, _ = inprocess_api
    auth = signed_up(client)
    made: dict[str, list[str]] = {}
    for name, email in (("Asha Rao", "asha@acme.example"), ("Ravi K", None), ("Ravi K", None)):
        body = {"name": name, **({"email": email} if email else {})}
        answer = client.post("/v1/employees", json=body, headers=auth)
        assert answer.status_code == 201, answer.text
        made.setdefault(name, []).append(answer.json()["id"])
    asha = made["Asha Rao"][0]
    rows = "\n".join(
        [
            "Phone,First Name,Assigned To",
            "+919811100001,By name,Asha Rao",
            "+919811100002,By email,ASHA@acme.example",
            f"+919811100003,By id,{asha}",
            "+919811100004,Shared,Ravi K",
            "+919811100005,Nobody,Meera",
        ]
    )
    answer = client.post(
        "/v1/leads/import", content=rows, headers={**auth, "Content-Type": "text/csv"}
    )
    result = answer.json()
    assert (result["created"], answer.status_code) == (3, 200), answer.text
    assert [(e["row"], e["errors"][0]["path"]) for e in result["errors"]] == [
        (4, "employee_id"),
        (5, "employee_id"),
    ]
    assert "more than one employee is named Ravi K" in result["errors"][0]["errors"][0]["message"]
    listed = client.get("/v1/leads", headers=auth).json()["items"]
    assert {lead["employee_id"] for lead in listed} == {asha}
    renamed = client.put(
        "/v1/leads/by-number/+919811100001", json={"employee_id": "Ravi K"}, headers=auth
    )
    assert renamed.status_code == 422, renamed.text
