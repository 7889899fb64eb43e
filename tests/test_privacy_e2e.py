"""Privacy rights through the real stack, on chDB + SQLite and on ClickHouse server +
PostgreSQL: an erasure hides a number from every report and list at once and then leaves no
row holding its blind index; suppression drops later uploads; an employee's consent withdrawn;
the number export and the company archive read back."""

from __future__ import annotations

import base64
import csv
import io
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from core.controlplane import companies, make_engine
from core.number_crypto import CompanyKeys, blind_index, unwrap_company_keys
from core.privacy.mutations import COMPANY_TABLES
from tests.support.leftovers import control_plane_rows
from tests.support.stack import Stack, eventually, owner_token
from tests.test_devices_e2e import status
from tests.test_pipeline_e2e import AGGREGATE_TABLES, aggregated_totals, history, upload

DAY = {"from": "2026-03-01", "to": "2026-03-03"}
ERASED, KEPT = "+919876512345", "+919811122233"

# every read of the report API that could show a client's number or count it
READS = (
    "/v1/reports/summary",
    "/v1/reports/employees",
    "/v1/reports/analytics",
    "/v1/reports/never-attended",
    "/v1/reports/not-picked-up",
    "/v1/reports/customers",
    "/v1/reports/working-hours",
    "/v1/reports/leads",
    "/v1/calls",
    "/v1/leads",
    "/v1/followups",
    "/v1/triggers/calls",
    "/v1/triggers/leads",
)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def keys_of(stack: Stack, company_id: str) -> CompanyKeys:
    engine = make_engine(stack.env["CLOSECALL_DATABASE_URL"])
    with engine.connect() as conn:
        wrapped = conn.execute(
            sa.select(companies.c.wrapped_data_key).where(companies.c.id == company_id)
        ).scalar_one()
    engine.dispose()
    master = base64.b64decode(stack.env["CLOSECALL_MASTER_KEY"])
    return unwrap_company_keys(master, company_id, wrapped)


def call(call_id: str, number: str, kind: str, duration_s: int, minute: int) -> dict[str, Any]:
    return {
        "id": call_id,
        "number": number,
        "type": kind,
        "duration_s": duration_s,
        "started_at": f"2026-03-02T10:{minute:02d}:00+05:30",
        "note": f"note of {call_id}",
    }


def reads(stack: Stack, key: str) -> str:
    """Every read's answer, one text (the masked number must appear in none)."""
    texts = []
    for path in READS:
        params: dict[str, Any] = DAY if path.startswith("/v1/reports") else {}
        if path.startswith("/v1/triggers"):
            params = {"limit": 100}
        answer = stack.api.get(path, params=params, headers=auth(key))
        assert answer.status_code == 200, (path, answer.text)
        texts.append(answer.text)
    return "\n".join(texts)


def company_with_calls(stack: Stack, name: str) -> dict[str, Any]:
    made = stack.signup(name, plan="basic_lead")
    key = made["api_key"]
    device = stack.enrolled_device(key, "Asha", f"hw-{name}")
    token = device["device_token"]
    calls = [
        call("e-1", "98765 12345", "missed", 0, 0),
        call("e-2", "09876512345", "outgoing", 0, 5),
        call("e-3", "+91 98765 12345", "incoming", 60, 10),
        call("k-1", "9811122233", "outgoing", 30, 15),
        call("k-2", "9811122233", "missed", 0, 20),
    ]
    assert upload(stack, token, calls).status_code == 202
    contacts = {"contacts": [{"id": "1", "name": "Erased", "numbers": ["9876512345"]}]}
    assert stack.ingest.post("/v1/contacts", json=contacts, headers=auth(token)).status_code == 202
    noted = stack.ingest.put("/v1/calls/e-3/note", json={"note": "x"}, headers=auth(token))
    assert noted.status_code == 202
    lead = stack.api.post(
        "/v1/leads", json={"first_name": ERASED_NAME, "primary_number": ERASED}, headers=auth(key)
    )
    assert lead.status_code == 201, lead.text
    followup = stack.api.post(
        "/v1/followups",
        json={"lead_id": lead.json()["id"], "due_at": "2026-03-03T10:00:00+05:30"},
        headers=auth(key),
    )
    assert followup.status_code == 201, followup.text
    eventually(lambda: len(history(stack, key)) == 5)
    return {**made, "key": key, "token": token, "device_id": device["device_id"], "name": name}


ERASED_NAME = "Gone-Erased-Lead"  # the erased client's lead: no byte of it may stay


def erased(stack: Stack, owner: str, erasure_id: str) -> None:
    """Until the erasure says done."""
    eventually(
        lambda: (
            stack.api.get(f"/v1/privacy/erasures/{erasure_id}", headers=auth(owner)).json()[
                "status"
            ]
            == "done"
        ),
        timeout_s=90,
    )


def masked_of(stack: Stack, key: str, number: str) -> str:
    found = history(stack, key, number=number)
    assert found, number
    return str(found[0]["number"])


def test_an_erasure_hides_at_once_then_leaves_no_row(both_stacks: Stack) -> None:
    stack = both_stacks
    company = company_with_calls(stack, f"Erase{stack.name}")
    key, owner = company["key"], owner_token(stack, company["name"])
    keys = keys_of(stack, company["company_id"])
    erased_key = blind_index(keys, ERASED)
    masked = masked_of(stack, key, ERASED)
    assert masked in reads(stack, key)
    before = stack.api.get("/v1/privacy/export", params={"number": ERASED}, headers=auth(key))
    assert [f["number"] for f in before.json()["followups"]] == [ERASED]  # E.164: the export
    assert (
        stack.api.post(
            "/v1/privacy/erasures", json={"number": ERASED}, headers=auth(key)
        ).status_code
        == 403
    )  # an API key is never owner

    answer = stack.api.post("/v1/privacy/erasures", json={"number": ERASED}, headers=auth(owner))
    assert answer.status_code == 202, answer.text
    erasure = answer.json()
    assert erasure["status"] == "pending" and erasure["counts"]["leads"] == 1
    # from the 202 on: no read shows it, the counts exclude it
    text = reads(stack, key)
    assert masked not in text and ERASED not in text
    assert history(stack, key, number=ERASED) == []
    assert [item["number"] for item in history(stack, key)] == [masked_of(stack, key, KEPT)] * 2
    summary = stack.api.get("/v1/reports/summary", params=DAY, headers=auth(key)).json()
    assert summary["total_calls"] == 2 and summary["unique_clients"] == 1
    exported = stack.api.get(
        "/v1/privacy/export", params={"number": ERASED}, headers=auth(key)
    ).json()
    assert exported["calls"] == exported["contacts"] == exported["leads"] == []
    assert exported["followups"] == []

    def done() -> dict[str, Any] | None:
        found = stack.api.get(f"/v1/privacy/erasures/{erasure['id']}", headers=auth(owner)).json()
        return found if found["status"] == "done" else None

    finished = eventually(done, timeout_s=90)
    assert finished["counts"] == {
        "calls": 3,
        "contacts": 1,
        "notes": 4,  # three calls' own notes and the one sent later
        "leads": 1,
        "statuses": 0,
    }
    # done: no pending erasure corrects the aggregates at read time any more, and they hold
    # only the kept client's calls
    summary = stack.api.get("/v1/reports/summary", params=DAY, headers=auth(key)).json()
    assert summary["total_calls"] == 2 and summary["unique_clients"] == 1
    aggregated = stack.clickhouse_rows(
        *(
            "SELECT sum(incoming + outgoing + missed + voicemail + rejected + blocked"
            f" + answered_externally) AS n FROM {table} FINAL"
            f" WHERE company_id = '{company['company_id']}'"
            for table in AGGREGATE_TABLES
        )
    )
    assert [int(rows[0]["n"]) for rows in aggregated] == [2] * len(AGGREGATE_TABLES)
    client = str(uuid.UUID(erased_key))
    holding = stack.clickhouse_rows(
        *(
            f"SELECT count() AS n FROM {table} WHERE company_id = '{company['company_id']}'"
            + (
                f" AND (device_id, client_call_id) NOT IN (SELECT device_id, client_call_id"
                f" FROM calls WHERE company_id = '{company['company_id']}')"
                if table == "call_notes"
                else f" AND client_key = '{erased_key}'"
                if table in ("calls", "call_changes", "contacts", "lead_clients")
                else f" AND client = toUUID('{client}')"
                if table in ("call_clients", "client_calls")
                else " AND 0"
            )
            for table in COMPANY_TABLES
        )
    )
    assert [int(rows[0]["n"]) for rows in holding] == [0] * len(COMPANY_TABLES)

    def replaced_parts() -> int:  # they still hold the erased rows
        (rows,) = stack.clickhouse_rows(
            "SELECT count() AS n FROM system.parts WHERE database = currentDatabase()"
            " AND NOT active AND table IN ('calls', 'call_notes', 'contacts')"
        )
        return int(rows[0]["n"])

    if stack.embedded_api:  # chDB: gone before the erasure says done
        assert replaced_parts() == 0
    else:  # the server's own cleanup (deploy/clickhouse/erasure.xml): within 40 s
        eventually(lambda: replaced_parts() == 0, timeout_s=75, interval_s=2)
    engine = make_engine(stack.env["CLOSECALL_DATABASE_URL"])
    with engine.connect() as conn:
        for table, column in (
            ("lead_numbers", "number_key"),
            ("erasures", "number_key"),
            ("suppressions", "number_key"),
            ("hook_event_numbers", "number_key"),
        ):
            found = conn.execute(
                sa.text(f"SELECT count(*) FROM {table} WHERE {column} = :k"), {"k": erased_key}
            ).scalar_one()
            assert found == 0, table
    engine.dispose()
    database = stack.env["CLOSECALL_DATABASE_URL"]
    if database.startswith("sqlite"):  # no page of the file or its log holds the erased lead
        path = Path(database.removeprefix("sqlite:///"))
        for held in (path, path.with_name(path.name + "-wal")):
            assert not held.exists() or ERASED_NAME.encode() not in held.read_bytes(), held
    # the other client is untouched
    assert len(history(stack, key)) == 2
    actions = [
        entry["action"] for entry in stack.api.get("/v1/audit", headers=auth(owner)).json()["items"]
    ]
    assert "erasure.requested" in actions and "erasure.done" in actions
    assert "numbers.exported" in actions


def test_suppression_drops_later_uploads(both_stacks: Stack) -> None:
    stack = both_stacks
    company = company_with_calls(stack, f"Suppress{stack.name}")
    key, owner, token = company["key"], owner_token(stack, company["name"]), company["token"]
    answer = stack.api.post(
        "/v1/privacy/erasures", json={"number": ERASED, "suppress": True}, headers=auth(owner)
    )
    assert answer.status_code == 202
    erased(stack, owner, answer.json()["id"])
    later = [
        call("e-9", "9876512345", "incoming", 30, 40),
        call("k-9", "9811122233", "missed", 0, 45),
    ]
    assert upload(stack, token, later).status_code == 202
    contacts = {"contacts": [{"id": "2", "name": "Again", "numbers": ["+919876512345"]}]}
    assert stack.ingest.post("/v1/contacts", json=contacts, headers=auth(token)).status_code == 202
    # the kept number's later call arrives in the same upload as the suppressed one's
    eventually(lambda: len(history(stack, key)) == 3)
    assert history(stack, key, number=ERASED) == []
    exported = stack.api.get(
        "/v1/privacy/export", params={"number": ERASED}, headers=auth(key)
    ).json()
    assert exported["calls"] == [] and exported["contacts"] == []


def test_an_employee_withdraws_consent(both_stacks: Stack) -> None:
    stack = both_stacks
    company = company_with_calls(stack, f"Consent{stack.name}")
    key, owner, token = company["key"], owner_token(stack, company["name"]), company["token"]
    assert (
        status(
            stack,
            token,
            {
                "at": "2026-03-02T10:00:00+05:30",
                "battery_pct": 80,
                "location": {"lat": 19.07, "lon": 72.87},
                "fcm_token": "fcm-of-the-phone",
                "sims": [{"slot": 0, "sim_id": "8991-1", "carrier": "Jio"}],
            },
        ).status_code
        == 202
    )
    employee_id = history(stack, key)[0]["employee_id"]
    other = stack.enrolled_device(key, "Ravi", f"hw-other-{company['name']}")
    assert (
        upload(
            stack, other["device_token"], [call("o-1", "9811122233", "outgoing", 10, 50)]
        ).status_code
        == 202
    )
    eventually(lambda: len(history(stack, key)) == 6)
    eventually(  # its health, and what it reported about itself, are in the devices list
        lambda: any(
            d["battery_pct"] == 80 and d["sims"] and d["fcm_token_valid"]
            for d in stack.api.get("/v1/devices", headers=auth(key)).json()["items"]
        )
    )
    answer = stack.api.post(f"/v1/employees/{employee_id}/erasure", headers=auth(owner))
    assert answer.status_code == 202, answer.text
    erasure = answer.json()
    assert erasure["kind"] == "employee"
    # at once: their calls and their device's health are gone from every read
    remaining = history(stack, key)
    assert len(remaining) == 1 and remaining[0]["employee_id"] != employee_id
    devices = stack.api.get("/v1/devices", params={"revoked": "true"}, headers=auth(key)).json()
    assert all(d["battery_pct"] is None for d in devices["items"])
    withdrawn = [d for d in devices["items"] if d["employee_id"] == employee_id]
    assert [(d["sims"], d["fcm_token_valid"]) for d in withdrawn] == [([], False)]
    employee = stack.api.get(f"/v1/employees/{employee_id}", headers=auth(key)).json()
    assert employee["tracking_enabled"] is False
    accepted = []  # within ingest's token cache and the worker's 1 s read of what to drop,
    # a call may still be stored: the erasure deletes it with the rest

    def refused_upload() -> bool:
        answer = upload(stack, token, [call("z-1", "9811100000", "missed", 0, 55)])
        accepted.append(answer.status_code == 202)
        return bool(answer.status_code == 401)

    eventually(refused_upload, timeout_s=30)

    def done() -> dict[str, Any] | None:
        found = stack.api.get(f"/v1/privacy/erasures/{erasure['id']}", headers=auth(owner)).json()
        return found if found["status"] == "done" else None

    finished = eventually(done, timeout_s=90)
    assert finished["counts"]["calls"] in (5, 5 + any(accepted))
    assert finished["counts"]["statuses"] == 1
    assert finished["counts"]["contacts"] == 1
    device = company["device_id"]
    held = stack.clickhouse_rows(
        *(
            f"SELECT count() AS n FROM {table} WHERE device_id = '{device}'"
            for table in ("calls", "call_notes", "contacts", "device_status", "call_employees")
        )
    )
    assert [int(rows[0]["n"]) for rows in held] == [0] * 5
    assert len(history(stack, key)) == 1
    # every aggregate holds the other phone's call alone: the device's quarters and days went
    # with its calls, its hours are zero rows and the whole company's hours were folded again
    assert aggregated_totals(stack, company["company_id"]) == (1, 10)
    # the client states counted the device's calls: the worker's round rebuilds them (the
    # shared client is left with the other phone's connected call, the erased one with none)
    states = (
        "SELECT count() AS n, max(last_missed) AS missed, max(last_tried) AS tried"
        f" FROM client_states FINAL WHERE company_id = '{company['company_id']}'"
    )

    # the round's word first: reading chDB stops the worker (one process per directory), and
    # polling through it left the worker no time to run its round
    rebuilt = f"client states of company {company['company_id']} rebuilt"
    eventually(lambda: rebuilt in stack.log("worker"), timeout_s=60)
    (rows,) = stack.clickhouse_rows(states)
    assert (int(rows[0]["n"]), int(rows[0]["missed"]), int(rows[0]["tried"])) == (1, 0, 0)


def test_retention_takes_old_calls_out_of_every_aggregate(both_stacks: Stack) -> None:
    """The owner keeps 90 days: the worker's privacy round deletes the March calls with their
    quarters, days, hours and the whole company's hours; a call of yesterday stays in each."""
    stack = both_stacks
    company = company_with_calls(stack, f"Retain{stack.name}")
    key, owner = company["key"], owner_token(stack, company["name"])
    yesterday = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0)
    recent = {**call("r-1", "9811100001", "outgoing", 70, 0), "started_at": yesterday.isoformat()}
    assert upload(stack, company["token"], [recent]).status_code == 202
    eventually(lambda: len(history(stack, key)) == 6)
    kept = stack.api.patch("/v1/company", json={"retention_days": 90}, headers=auth(owner))
    assert kept.status_code == 200, kept.text
    left = [("outgoing", 70)]  # yesterday's call alone
    eventually(
        lambda: [(c["type"], c["duration_s"]) for c in history(stack, key)] == left, timeout_s=60
    )
    assert aggregated_totals(stack, company["company_id"]) == (1, 70)
    march = stack.api.get("/v1/reports/summary", params=DAY, headers=auth(key)).json()
    assert march["total_calls"] == 0


def test_the_company_archive_reads_back(both_stacks: Stack) -> None:
    stack = both_stacks
    company = company_with_calls(stack, f"Archive{stack.name}")
    key, owner = company["key"], owner_token(stack, company["name"])
    (employee,) = stack.api.get("/v1/employees", headers=auth(key)).json()["items"]
    formula = "=cmd|' /C calc'!A0"  # a spreadsheet would run it: the archive neutralises it
    renamed = stack.api.patch(
        f"/v1/employees/{employee['id']}", json={"name": formula}, headers=auth(key)
    )
    assert renamed.status_code == 200, renamed.text
    assert stack.api.post("/v1/privacy/exports", headers=auth(key)).status_code == 403
    answer = stack.api.post("/v1/privacy/exports", headers=auth(owner))
    assert answer.status_code == 202, answer.text
    export_id = answer.json()["id"]
    early = stack.api.get(f"/v1/privacy/exports/{export_id}/download", headers=auth(owner))
    assert early.status_code in (200, 409)

    def done() -> dict[str, Any] | None:
        found = stack.api.get(f"/v1/privacy/exports/{export_id}", headers=auth(owner)).json()
        return found if found["status"] == "done" else None

    finished = eventually(done, timeout_s=90)
    download = stack.api.get(f"/v1/privacy/exports/{export_id}/download", headers=auth(owner))
    assert download.status_code == 200 and download.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(download.content))
    files = {
        name: list(csv.DictReader(io.TextIOWrapper(archive.open(name), encoding="utf-8")))
        for name in archive.namelist()
    }
    assert set(files) == {
        "calls.csv",
        "contacts.csv",
        "leads.csv",
        "followups.csv",
        "employees.csv",
        "devices.csv",
        "device_status.csv",
    }
    summary = stack.api.get("/v1/reports/summary", params=DAY, headers=auth(key)).json()
    assert len(files["calls.csv"]) == summary["total_calls"] == finished["counts"]["calls"]
    assert {row["number"] for row in files["calls.csv"]} == {ERASED, KEPT}
    assert [row["number"] for row in files["contacts.csv"]] == [ERASED]
    assert [row["primary_number"] for row in files["leads.csv"]] == [ERASED]
    assert [row["custom"] for row in files["leads.csv"]] == ["{}"]  # the company's own fields
    (followup,) = files["followups.csv"]
    assert (followup["number"], followup["due_at"]) == (ERASED, "2026-03-03T04:30:00+00:00")
    assert followup["lead_id"] == files["leads.csv"][0]["id"]
    assert [row["name"] for row in files["employees.csv"]] == ["'" + formula]
    assert len(files["devices.csv"]) == 1
    notes = {row["id"]: row["note"] for row in files["calls.csv"]}
    assert sorted(notes.values())[0] == "note of e-1"
    assert finished["counts"]["leads"] == 1 and finished["size_bytes"] == len(download.content)


def test_the_subscription_from_cancel_to_purge(both_stacks: Stack) -> None:
    stack = both_stacks
    company = company_with_calls(stack, f"Billing{stack.name}")
    key, owner, token = company["key"], owner_token(stack, company["name"]), company["token"]
    company_id = company["company_id"]
    paid_until = datetime.now(UTC) + timedelta(days=30)
    stack.output("company", "period-end", company_id, paid_until.isoformat())
    cancelled = stack.api.post("/v1/company/cancel", headers=auth(owner))
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert datetime.fromisoformat(cancelled.json()["period_end"]) == paid_until
    assert stack.api.post("/v1/company/cancel", headers=auth(key)).status_code == 403
    me = stack.api.get("/v1/me", headers=auth(key)).json()
    assert me["company"]["status"] == "cancelled"
    assert stack.api.get("/v1/reports/summary", params=DAY, headers=auth(key)).status_code == 200
    assert company_id in stack.output("company", "list", "--state", "cancelled")

    # the period ends: a call accepted just before is kept, then nothing is accepted
    assert upload(stack, token, [call("last", "9811122233", "incoming", 5, 59)]).status_code == 202
    eventually(lambda: len(history(stack, key)) == 6)
    stack.output("company", "period-end", company_id, datetime.now(UTC).isoformat())
    refused = stack.api.get("/v1/reports/summary", params=DAY, headers=auth(key))
    assert (refused.status_code, refused.json()["error"]["code"]) == (402, "subscription_inactive")
    assert stack.api.get("/v1/me", headers=auth(key)).json()["company"]["status"] == "deactivated"
    accepted = []  # within the device cache's TTL an upload may still be accepted: kept too

    def refused_upload() -> bool:
        answer = upload(stack, token, [call("late", "9811122233", "missed", 0, 58)])
        accepted.append(answer.status_code == 202)
        return bool(answer.status_code == 402)

    eventually(refused_upload, timeout_s=30)
    assert company_id in stack.output("company", "list", "--state", "deactivated")
    # the export still works, with every call accepted before
    export_id = stack.api.post("/v1/privacy/exports", headers=auth(owner)).json()["id"]
    eventually(
        lambda: (
            stack.api.get(f"/v1/privacy/exports/{export_id}", headers=auth(owner)).json()["status"]
            == "done"
        ),
        timeout_s=90,
    )
    archive = stack.api.get(f"/v1/privacy/exports/{export_id}/download", headers=auth(owner))
    calls_csv = zipfile.ZipFile(io.BytesIO(archive.content)).read("calls.csv").decode()
    assert len(list(csv.DictReader(io.StringIO(calls_csv)))) == 6 + any(accepted)

    # reactivated before the purge: everything works again
    back = stack.api.post("/v1/company/reactivate", headers=auth(owner))
    assert back.json() == {"status": "active", "period_end": None}
    assert stack.api.get("/v1/reports/summary", params=DAY, headers=auth(key)).status_code == 200

    # a period that ended longer ago than the grace: an active company keeps working ...
    stack.output(
        "company", "period-end", company_id, (datetime.now(UTC) - timedelta(days=6)).isoformat()
    )
    assert stack.api.get("/v1/reports/summary", params=DAY, headers=auth(key)).status_code == 200
    # ... until the operator's manual billing cancels it: then the worker purges it
    stack.output("company", "cancel", company_id, "--reason", "not paid")
    eventually(lambda: stack.api.get("/v1/me", headers=auth(key)).status_code == 401, timeout_s=90)
    left = stack.clickhouse_rows(
        *(
            f"SELECT count() AS n FROM {table} WHERE company_id = '{company_id}'"
            for table in COMPANY_TABLES
        )
    )
    assert [int(rows[0]["n"]) for rows in left] == [0] * len(COMPANY_TABLES)
    engine = make_engine(stack.env["CLOSECALL_DATABASE_URL"])
    assert control_plane_rows(engine, company_id) == {}
    engine.dispose()
    assert company_id not in stack.output("company", "list")
