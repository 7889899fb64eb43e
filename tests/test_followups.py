"""Follow-ups on SQLite and PostgreSQL: made on a lead or a number (any format), listed by
status, done by hand; completed by the first connected call with the client made after them
(once, whatever replays); at the due time (the clock injected) the employee's phone gets the
FCM data message through FCM's v1 API and `followup.due` is in the outbox, once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import responses
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.context import ApiContext
from core.calls.items import people_of
from core.controlplane import followups, integration_outbox
from core.hooks.events import write_outbox
from core.leads.followups import ConnectedCall, close_by_calls
from streams.calls.followups import remind_due
from tests.support.fcm import FCM_URL, PROJECT
from tests.test_lead_push import employee_with_phone, pushed, signed_up

NOW = datetime.now(UTC).replace(microsecond=0)


def outbox(context: ApiContext, company_id: str) -> list[dict[str, Any]]:
    with context.engine.connect() as conn:
        rows = conn.execute(
            sa.select(integration_outbox.c.body).where(
                integration_outbox.c.company_id == company_id
            )
        ).scalars()
        return [json.loads(body) for body in rows]


def key_of(context: ApiContext, followup_id: str) -> tuple[str, datetime]:
    with context.engine.connect() as conn:
        row = conn.execute(sa.select(followups).where(followups.c.id == followup_id)).one()
    return row.number_key, row.created_at


@responses.activate
def test_followups_made_listed_completed_and_reminded(
    inprocess_api: tuple[TestClient, ApiContext],
) -> None:
    client, context = inprocess_api
    responses.post(FCM_URL, json={"name": f"projects/{PROJECT}/messages/1"})
    auth = signed_up(client)
    company_id = client.get("/v1/me", headers=auth).json()["company"]["id"]
    asha = employee_with_phone(client, context, auth, "fcm-followup-asha")
    lead = client.post(
        "/v1/leads", json={"primary_number": "9876543210", "employee_id": asha}, headers=auth
    ).json()
    responses.calls.reset()  # the lead's own push

    soon = (NOW + timedelta(hours=2)).isoformat()
    on_lead = client.post(
        "/v1/followups", json={"lead_id": lead["id"], "due_at": soon, "note": "send the quote"},
        headers=auth,
    )  # fmt: skip
    assert on_lead.status_code == 201, on_lead.text
    made = on_lead.json()
    assert (made["employee_id"], made["number"], made["status"]) == (asha, "+919876543210", "open")
    assert made["lead_id"] == lead["id"] and made["note"] == "send the quote"
    assert made["due_at"].endswith("+05:30")  # the company's zone (India)
    assert pushed() == [  # the employee's phone asks for its follow-ups again
        {
            "message": {
                "token": "fcm-followup-asha",
                "data": {"action": "followups"},
                "android": {"priority": "high"},
            }
        }
    ]

    late = (NOW - timedelta(hours=1)).isoformat()
    on_number = client.post(
        "/v1/followups", json={"number": "098111 22233", "due_at": late}, headers=auth
    )
    assert on_number.status_code == 201, on_number.text
    assert (on_number.json()["lead_id"], on_number.json()["status"]) == (None, "overdue")
    for body, field in (
        ({"lead_id": lead["id"], "number": "9811122233", "due_at": soon}, "lead_id"),
        ({"number": "not a number", "due_at": soon}, "number"),
        ({"number": "9811122233", "due_at": "2027-01-01T10:00:00"}, "due_at"),  # no offset
        ({"number": "9811122233", "due_at": soon, "employee_id": "nobody"}, "employee_id"),
    ):
        refused = client.post("/v1/followups", json=body, headers=auth)
        assert refused.status_code == 422, (body, refused.text)
        assert refused.json()["error"]["fields"][0]["path"] == field, refused.text

    def listed(**params: str) -> list[str]:
        answer = client.get("/v1/followups", params=params, headers=auth)
        assert answer.status_code == 200, answer.text
        return [item["id"] for item in answer.json()["items"]]

    assert listed() == [on_number.json()["id"], made["id"]]  # by due time
    assert listed(status="overdue") == [on_number.json()["id"]]
    assert listed(status="open") == [made["id"]]
    assert listed(status="done") == []
    assert listed(employee_id=asha) == [made["id"]]

    # the phone calls the number back: before the follow-up was made it counts for nothing
    key, created_at = key_of(context, made["id"])
    zone = ZoneInfo("Asia/Kolkata")
    before = ConnectedCall("call-before", key, created_at - timedelta(minutes=5))
    after = ConnectedCall("call-after", key, created_at + timedelta(minutes=5))
    for calls in ([before], [after, before], [after]):  # the last: a replay
        with context.engine.begin() as conn:
            people = people_of(conn, company_id)
            write_outbox(conn, close_by_calls(conn, company_id, calls, people, zone, NOW), NOW)
    done = client.get("/v1/followups", params={"status": "done"}, headers=auth).json()["items"]
    assert [(item["id"], item["done_by_call_id"]) for item in done] == [(made["id"], "call-after")]
    completed = [e for e in outbox(context, company_id) if e["type"] == "followup.completed"]
    assert [e["data"]["id"] for e in completed] == [made["id"]]
    assert completed[0]["data"]["number"] == "+91******3210"  # masked in the event

    # by hand: open again, then the due time comes (the worker's round, its clock injected)
    reopened = client.patch(
        f"/v1/followups/{made['id']}", json={"done": False}, headers=auth
    ).json()
    assert reopened["status"] == "open" and reopened["done_by_call_id"] is None
    responses.calls.reset()
    assert remind_due(context.engine, context.pusher, NOW)  # the overdue one: due, no employee
    assert pushed() == []
    due_at = NOW + timedelta(hours=2)
    assert remind_due(context.engine, context.pusher, due_at)
    assert pushed() == [
        {
            "message": {
                "token": "fcm-followup-asha",
                "data": {"action": "followups"},
                "android": {"priority": "high"},
            }
        }
    ]
    assert not remind_due(context.engine, context.pusher, due_at + timedelta(minutes=1))
    due = [e["data"]["id"] for e in outbox(context, company_id) if e["type"] == "followup.due"]
    assert sorted(due) == sorted([made["id"], on_number.json()["id"]])  # each once


def test_followups_need_the_lead_plan(inprocess_api: tuple[TestClient, ApiContext]) -> None:
    client, _ = inprocess_api
    made = client.post(
        "/v1/signup",
        json={
            "company_name": "Basic Followups",
            "country": "IN",
            "email": "owner@basic-followups.example",
            "password": "correct horse battery staple",
            "plan": "basic",
        },
    ).json()
    auth = {"Authorization": f"Bearer {made['api_key']}"}
    answer = client.get("/v1/followups", headers=auth)
    assert answer.status_code == 402, answer.text
