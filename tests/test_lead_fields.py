"""A company's own lead fields: an admin declares them; a lead's values are checked by kind
(text, number, date, choice) wherever a lead is written (JSON, CSV by column key or label, find
or create, PATCH) and shown with it; another company never sees them."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.context import ApiContext
from tests.test_lead_push import signed_up

FIELDS = [
    {"key": "budget", "label": "Budget (INR)", "kind": "number"},
    {"key": "visit_on", "label": "Visit on", "kind": "date"},
    {"key": "stage", "label": "Stage", "kind": "choice", "choices": ["Cold", "Warm", "Hot"]},
    {"key": "source", "label": "Source", "kind": "text"},
]


def test_declared_fields_are_checked_written_and_shown(
    inprocess_api: tuple[TestClient, ApiContext],
) -> None:
    client, _ = inprocess_api
    auth, other = signed_up(client), signed_up(client)
    for spec in FIELDS:
        made = client.post("/v1/lead-fields", json=spec, headers=auth)
        assert made.status_code == 201, made.text
    again = client.post("/v1/lead-fields", json=FIELDS[0], headers=auth)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "field_taken")
    bad = client.post(
        "/v1/lead-fields", json={"key": "x", "label": "X", "kind": "choice"}, headers=auth
    )
    assert bad.status_code == 422
    assert [f["key"] for f in client.get("/v1/lead-fields", headers=auth).json()["items"]] == [
        "budget",
        "visit_on",
        "stage",
        "source",
    ]
    assert client.get("/v1/lead-fields", headers=other).json() == {"items": []}

    custom = {"budget": "250000", "visit_on": "2027-01-15", "stage": "warm", "source": "Expo"}
    made = client.post(
        "/v1/leads", json={"primary_number": "+919811100011", "custom": custom}, headers=auth
    )
    assert made.status_code == 201, made.text
    lead = made.json()
    assert lead["custom"] == {
        "budget": 250000,
        "visit_on": "2027-01-15",
        "stage": "Warm",
        "source": "Expo",
    }
    wrong = client.post(
        "/v1/leads",
        json={
            "primary_number": "+919811100012",
            "custom": {"budget": "lots", "visit_on": "15/01/2027", "stage": "Lukewarm", "x": 1},
        },
        headers=auth,
    )
    assert wrong.status_code == 422
    assert sorted(f["path"] for f in wrong.json()["error"]["fields"]) == [
        "custom.budget",
        "custom.stage",
        "custom.visit_on",
        "custom.x",
    ]
    patched = client.patch(
        f"/v1/leads/{lead['id']}", json={"custom": {"stage": "Hot", "source": None}}, headers=auth
    )
    assert patched.json()["custom"] == {"budget": 250000, "visit_on": "2027-01-15", "stage": "Hot"}
    put = client.put(
        "/v1/leads/by-number/+919811100011", json={"custom": {"budget": 1.5e5}}, headers=auth
    )
    assert put.json()["custom"]["budget"] == 150000

    rows = "\n".join(
        [
            "Phone,Budget (INR),stage,Visit On,Unknown",
            "+919811100021,90000,Cold,2027-02-01,ignored",
            "+919811100022,9k,Cold,,",
        ]
    )
    imported = client.post(
        "/v1/leads/import", content=rows, headers={**auth, "Content-Type": "text/csv"}
    ).json()
    assert imported["created"] == 1
    assert [(e["row"], e["errors"][0]["path"]) for e in imported["errors"]] == [
        (2, "custom.budget")
    ]
    found = client.get("/v1/leads", params={"number": "+919811100021"}, headers=auth).json()
    assert found["items"][0]["custom"] == {
        "budget": 90000,
        "stage": "Cold",
        "visit_on": "2027-02-01",
    }
    viewer = client.post("/v1/api-keys", json={"name": "v", "role": "viewer"}, headers=auth)
    refused = client.post(
        "/v1/lead-fields",
        json={"key": "y", "label": "Y", "kind": "text"},
        headers={"Authorization": f"Bearer {viewer.json()['secret']}"},
    )
    assert refused.status_code == 403
