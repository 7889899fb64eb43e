"""A lead's detail on SQLite and PostgreSQL: its history (creation, each change of employee,
each edit with the fields it changed and never their values, the first call and the first
connected call), its follow-ups by lead; a company field deleted with every lead's value of it
(each such lead a change of the feed)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from api.context import ApiContext
from core.leads.followups import overdue
from tests.test_lead_push import signed_up

NUMBER = "+919811100031"


def history(client: TestClient, auth: dict[str, str], lead_id: str) -> list[tuple[Any, ...]]:
    answer = client.get(f"/v1/leads/{lead_id}", headers=auth)
    assert answer.status_code == 200, answer.text
    return [
        (change["kind"], change["employee_name"], change["fields"])
        for change in answer.json()["history"]
    ]


def test_a_leads_history_names_each_change_and_no_value(
    inprocess_api: tuple[TestClient, ApiContext],
) -> None:
    client, _ = inprocess_api
    auth = signed_up(client)
    asha, ravi = (
        client.post("/v1/employees", json={"name": name}, headers=auth).json()["id"]
        for name in ("Asha", "Ravi")
    )
    made = client.post(
        "/v1/leads",
        json={"first_name": "Meera", "primary_number": NUMBER, "employee_id": asha},
        headers=auth,
    )
    assert made.status_code == 201, made.text
    lead_id = made.json()["id"]
    assert history(client, auth, lead_id) == [("created", "Asha", []), ("assigned", "Asha", [])]

    edits = [
        {"notes": "wants a quote", "company": "Acme"},
        {"primary_number": "098111 00031"},  # the same number written otherwise: no change
        {"secondary_number": "+919811100032"},
        {"employee_id": ravi},
        {"employee_id": None},
        {"notes": "wants a quote"},  # as it is: nothing to record
    ]
    for body in edits:
        answer = client.patch(f"/v1/leads/{lead_id}", json=body, headers=auth)
        assert answer.status_code == 200, answer.text
    rows = "Phone,Company\n+919811100032,Acme Ltd\n"
    imported = client.post(
        "/v1/leads/import",
        params={"on_duplicate": "update"},
        content=rows,
        headers={**auth, "Content-Type": "text/csv"},
    )
    assert imported.json()["updated"] == 1, imported.text
    assert history(client, auth, lead_id)[2:] == [
        ("edited", "Asha", ["company", "notes"]),
        ("edited", "Asha", ["secondary_number"]),
        ("assigned", "Ravi", []),
        ("unassigned", None, []),
        ("edited", None, ["company"]),
    ]
    shown = client.get(f"/v1/leads/{lead_id}", headers=auth).text
    assert "wants a quote" in shown and shown.count("wants a quote") == 1  # the notes, once
    assert "Acme Ltd" not in str(history(client, auth, lead_id))

    other = signed_up(client)
    assert client.get(f"/v1/leads/{lead_id}", headers=other).status_code == 404


def test_a_deleted_field_leaves_no_value_and_each_lead_changes(
    inprocess_api: tuple[TestClient, ApiContext],
) -> None:
    client, _ = inprocess_api
    auth = signed_up(client)
    for key in ("stage", "stage_2"):
        spec = {"key": key, "label": key.title(), "kind": "text"}
        assert client.post("/v1/lead-fields", json=spec, headers=auth).status_code == 201
    ids = []
    for n, custom in enumerate(({"stage": "Hot", "stage_2": "x"}, {"stage_2": "y"}, {})):
        body = {"primary_number": f"+91981110004{n}", "custom": custom}
        ids.append(client.post("/v1/leads", json=body, headers=auth).json()["id"])
    feed = client.get("/v1/changes/leads", headers=auth).json()
    assert client.delete("/v1/lead-fields/stage", headers=auth).status_code == 204
    assert client.delete("/v1/lead-fields/stage", headers=auth).status_code == 404
    fields = client.get("/v1/lead-fields", headers=auth).json()["items"]
    assert [f["key"] for f in fields] == ["stage_2"]
    leads = {
        lead["id"]: lead["custom"] for lead in client.get("/v1/leads", headers=auth).json()["items"]
    }
    assert leads == {ids[0]: {"stage_2": "x"}, ids[1]: {"stage_2": "y"}, ids[2]: {}}
    changed = client.get(
        "/v1/changes/leads", params={"cursor": feed["next_cursor"]}, headers=auth
    ).json()["items"]
    assert [item["lead"]["id"] for item in changed] == [ids[0]]  # only the lead that held one
    assert history(client, auth, ids[0])[-1] == ("edited", None, ["custom"])
    # declared again, of another kind: no old value comes back
    again = {"key": "stage", "label": "Stage", "kind": "number"}
    assert client.post("/v1/lead-fields", json=again, headers=auth).status_code == 201
    assert client.get(f"/v1/leads/{ids[0]}", headers=auth).json()["custom"] == {"stage_2": "x"}
    viewer = client.post("/v1/api-keys", json={"name": "v", "role": "viewer"}, headers=auth)
    as_viewer = {"Authorization": f"Bearer {viewer.json()['secret']}"}
    assert client.delete("/v1/lead-fields/stage_2", headers=as_viewer).status_code == 403


def test_followups_of_a_lead_and_the_overdue_of_a_scope(
    inprocess_api: tuple[TestClient, ApiContext],
) -> None:
    client, context = inprocess_api
    auth = signed_up(client)
    company_id = client.get("/v1/me", headers=auth).json()["company"]["id"]
    asha, ravi = (
        client.post("/v1/employees", json={"name": name}, headers=auth).json()["id"]
        for name in ("Asha", "Ravi")
    )
    lead = client.post(
        "/v1/leads", json={"primary_number": NUMBER, "employee_id": asha}, headers=auth
    ).json()
    past = datetime.now(UTC) - timedelta(hours=2)
    made = []
    for n, (about, employee) in enumerate(
        (
            ({"lead_id": lead["id"]}, asha),
            ({"number": "+919811100099"}, ravi),
            ({"number": "+919811100098"}, None),
        )
    ):
        due = (past + timedelta(minutes=n)).isoformat()
        body = {**about, "due_at": due, **({"employee_id": employee} if employee else {})}
        answer = client.post("/v1/followups", json=body, headers=auth)
        assert answer.status_code == 201, answer.text
        made.append(answer.json()["id"])
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    client.post("/v1/followups", json={"lead_id": lead["id"], "due_at": future}, headers=auth)
    of_lead = client.get("/v1/followups", params={"lead_id": lead["id"]}, headers=auth).json()
    assert [f["status"] for f in of_lead["items"]] == ["overdue", "open"]
    nobody = client.get("/v1/followups", params={"lead_id": str(uuid.uuid4())}, headers=auth)
    assert nobody.json()["items"] == []
    now = datetime.now(UTC)
    with context.engine.connect() as conn:
        every, total = overdue(conn, company_id, None, now, 2)
        assert ([r.id for r in every], total) == (made[:2], 3)  # the earliest due first
        ravis, total = overdue(conn, company_id, (ravi,), now, 10)
        assert ([r.id for r in ravis], total) == ([made[1]], 1)
