"""Contacts, call notes and dual-SIM attribution through the real stack, on the production path
(ClickHouse server + PostgreSQL) so ClickHouse can be read directly."""

from __future__ import annotations

import re
from typing import Any

from clickhouse_driver import Client

from tests.support.stack import Stack, eventually
from tests.test_devices_e2e import status
from tests.test_faults import enrolled
from tests.test_pipeline_e2e import history, upload


def clickhouse_of(stack: Stack) -> Client:
    port, database = re.match(
        r"clickhouse://127.0.0.1:(\d+)/(\w+)", stack.env["CLOSECALL_CLICKHOUSE_URL"]
    ).groups()  # type: ignore[union-attr]
    return Client(host="127.0.0.1", port=int(port), database=database)


def test_contacts_notes_and_sims(server_stack: Stack) -> None:
    stack = server_stack
    key, token = enrolled(stack, f"Notes{id(stack)}")
    device_auth = {"Authorization": f"Bearer {token}"}
    sims = [
        {"slot": 0, "sim_id": "8991-1", "carrier": "Jio"},
        {"slot": 1, "sim_id": "8991-2", "carrier": "Airtel"},
    ]
    assert (
        status(
            stack, token, {"at": "2026-03-02T10:00:00+05:30", "battery_pct": 80, "sims": sims}
        ).status_code
        == 202
    )
    call: dict[str, Any] = {
        "id": "c-1",
        "number": "9876543210",
        "type": "outgoing",
        "duration_s": 40,
        "started_at": "2026-03-02T10:05:00+05:30",
        "sim_slot": 1,
        "note": "first",
    }
    assert upload(stack, token, [call]).status_code == 202
    noted = stack.ingest.put(
        "/v1/calls/c-1/note", json={"note": "wants a demo on Friday"}, headers=device_auth
    )
    assert noted.status_code == 202
    too_long = stack.ingest.put(
        "/v1/calls/c-1/note", json={"note": "x" * 5000}, headers=device_auth
    )
    assert too_long.status_code == 422 and too_long.json()["error"]["fields"][0]["path"] == "note"

    def noted_call() -> dict[str, Any] | None:
        items = history(stack, key)
        ready = items and items[0]["note"] == "wants a demo on Friday" and items[0]["sim"]
        return items[0] if ready else None

    item = eventually(noted_call)
    assert (
        item["sim"] == {"slot": 1, "sim_id": "8991-2", "carrier": "Airtel"}
        and item["sim_slot"] == 1
    )

    # a later re-upload of the call with its own (newer) note wins over the earlier separate note
    assert upload(stack, token, [{**call, "note": "demo booked"}]).status_code == 202
    eventually(lambda: history(stack, key)[0]["note"] == "demo booked")

    contacts = {
        "contacts": [
            {"id": "201", "name": "Ravi", "numbers": ["+91 98765 43210", "022 2345 6789", "-1"]},
            {"id": 202, "name": "Priya", "numbers": ["9876500002"]},
        ]
    }
    answer = stack.ingest.post("/v1/contacts", json=contacts, headers=device_auth)
    assert answer.status_code == 202 and answer.json() == {"accepted": 2}
    ch = clickhouse_of(stack)
    rows = eventually(
        lambda: ch.execute(
            "SELECT contact_id, name, number_masked, number_enc, client_key FROM contacts FINAL ORDER BY number_masked"
        )
    )
    assert sorted((r[0], r[1], r[2]) for r in rows) == [
        ("201", "Ravi", "+91******3210"),
        ("201", "Ravi", "+91******6789"),
        ("202", "Priya", "+91******0002"),
    ]
    assert not any("98765" in "".join(r) or "23456789" in "".join(r) for r in rows)
    call_key = ch.execute("SELECT client_key FROM calls FINAL WHERE client_call_id = 'c-1'")[0][0]
    ravi_mobile = next(r for r in rows if r[2] == "+91******3210")
    assert call_key == ravi_mobile[4]  # the same number groups with the call's client
