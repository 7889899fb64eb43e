"""Phone -> ingest -> Kafka -> worker -> ClickHouse -> report API, on real parts, twice:
embedded (chDB + SQLite) and production path (ClickHouse server + PostgreSQL)."""

from __future__ import annotations

import gzip
import json
import random
import re
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa

from core.controlplane import companies, make_engine
from tests.support.calls import corrected, expected_counts, realistic_calls, written
from tests.support.stack import Stack, eventually, owner_token

IST = timezone(timedelta(hours=5, minutes=30))
DAY = datetime(2026, 3, 2, 9, 0, tzinfo=IST)  # 09:00-19:00 local: all calls inside 2026-03-02
STRING_COLUMNS = """SELECT company_id, device_id, client_call_id, call_id, employee_id, client_key,
    number_enc, number_masked, name, type, note FROM calls"""
INVALID_RECORDS = [
    (
        {
            "id": "bad-type",
            "number": "9876543210",
            "type": "fax",
            "started_at": DAY.isoformat(),
            "duration_s": 1,
        },
        "type",
    ),
    (
        {
            "id": "bad-time",
            "number": "9876543210",
            "type": "missed",
            "started_at": "2026-03-02T10:00:00",
            "duration_s": 0,
        },
        "started_at",
    ),
    ({"id": "no-time", "number": "9876543210", "type": 2, "duration_s": 5}, "started_at"),
    (
        {
            "id": "negative",
            "number": "9876543210",
            "type": "incoming",
            "started_at": DAY.isoformat(),
            "duration_s": -4,
        },
        "duration_s",
    ),
    ({"number": "9876543210", "type": 9, "started_at": DAY.isoformat(), "duration_s": 0}, "id"),
]


def upload(stack: Stack, token: str, calls: list[dict[str, Any]], gzipped: bool = False) -> Any:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    body = json.dumps({"calls": calls}).encode()
    if gzipped:
        body, headers["Content-Encoding"] = gzip.compress(body), "gzip"
    return stack.ingest.post("/v1/calls", content=body, headers=headers)


AGGREGATE_TABLES = ("call_quarters", "call_days", "call_hours", "company_hours")


def aggregated_totals(stack: Stack, company_id: str) -> tuple[int, int]:
    """Calls and talk time as the aggregates hold them: the quarters, the days and the hours
    (in the company's one zone) and the whole company's hours, each equal to the stored
    calls'."""
    connected = "type IN ('incoming', 'outgoing') AND duration_s > 0"
    totals = [
        (int(rows[0]["calls"]), int(rows[0]["talk"]))
        for rows in stack.clickhouse_rows(
            *(
                "SELECT sum(incoming + outgoing + missed + voicemail + rejected + blocked"
                " + answered_externally) AS calls, sum(incoming_talk_s + outgoing_talk_s) AS talk"
                f" FROM {table} FINAL WHERE company_id = '{company_id}'"
                for table in AGGREGATE_TABLES
            ),
            f"SELECT count() AS calls, sumIf(duration_s, {connected}) AS talk"
            f" FROM calls FINAL WHERE company_id = '{company_id}'",
        )
    ]
    assert len(set(totals)) == 1, totals
    return totals[0]


def company_id(stack: Stack, key: str) -> str:
    found = stack.api.get("/v1/company", headers={"Authorization": f"Bearer {key}"}).json()
    return str(found["id"])


def summary(stack: Stack, api_key: str, **params: Any) -> dict[str, Any]:
    response = stack.api.get(
        "/v1/reports/summary",
        params={"from": "2026-03-02", "to": "2026-03-02", **params},
        headers={"Authorization": f"Bearer {api_key}"},
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def history(stack: Stack, api_key: str, **params: Any) -> list[dict[str, Any]]:
    items, cursor = [], None
    while True:
        page = stack.api.get(
            "/v1/calls",
            params={"limit": 70, **params, **({"cursor": cursor} if cursor else {})},
            headers={"Authorization": f"Bearer {api_key}"},
        )
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return items


def run_upload_scenario(stack: Stack) -> list[str]:
    """Runs the scenario, then moves the company to another zone; returns the client numbers
    it used (10 digits each)."""
    rng = random.Random(20260302)
    pool = [f"{rng.choice('6789')}{rng.randrange(10**8, 10**9)}" for _ in range(40)]
    company = stack.signup(f"Acme{rng.randrange(10**6)}")
    key = company["api_key"]
    device = stack.enrolled_device(key, "Asha", "hw-asha")
    calls = realistic_calls(rng, 300, DAY, pool)

    # 1: plain JSON, with invalid records mixed in: valid ones are accepted, the rest explained
    first = [c.wire() for c in calls[:150]]
    for offset, (record, _field) in enumerate(INVALID_RECORDS):
        first.insert(10 * offset + 3, record)
    answer = upload(stack, device["device_token"], first)
    assert answer.status_code == 202, answer.text
    assert answer.json()["accepted"] == 150
    rejected = answer.json()["rejected"]
    assert [r["index"] for r in rejected] == [10 * i + 3 for i in range(len(INVALID_RECORDS))]
    for item, (record, field) in zip(rejected, INVALID_RECORDS, strict=True):
        assert item["id"] == record.get("id")
        assert field in {e["path"] for e in item["errors"]}, item

    # 2: gzip; 3: a re-sent overlapping batch in which three durations were corrected
    assert upload(
        stack, device["device_token"], [c.wire() for c in calls[150:]], gzipped=True
    ).json() == {"accepted": 150, "rejected": []}
    outgoing = [i for i in range(100, 200) if calls[i].type == "outgoing"][:3]
    for i in outgoing:
        calls[i] = corrected(calls[i], calls[i].duration_s + 30)
    assert (
        upload(stack, device["device_token"], [c.wire() for c in calls[100:200]]).status_code == 202
    )

    expected = expected_counts(calls)
    eventually(lambda: summary(stack, key)["talk_time_s"] == expected["talk_time_s"])
    got = summary(stack, key)
    assert got["range"] == {
        "from": "2026-03-02T00:00:00+05:30",
        "to": "2026-03-03T00:00:00+05:30",
        "tz": "Asia/Kolkata",
    }
    assert {k: got[k] for k in expected} == expected

    # history: every call once, newest first, numbers masked
    items = history(stack, key)
    assert len(items) == 300 == len({item["id"] for item in items})
    starts = [item["started_at"] for item in items]
    assert starts == sorted(starts, reverse=True)
    for item in items:
        assert item["number"] is None or re.fullmatch(r"\+91\*{6}\d{4}", item["number"]), item
    assert not any(digits in json.dumps(items) for digits in pool)

    # the number filter matches every way the number was written
    client = next(c.client for c in calls if c.client is not None)
    same_client = [c for c in {c.id: c for c in calls}.values() if c.client == client]
    assert len(history(stack, key, number=written(rng, pool[client]))) == len(same_client)

    # the type filter and an employee filter
    missed = summary(stack, key, type=["missed", "3"], employee_id=device["employee_id"])
    assert missed["total_calls"] == expected["missed"]
    assert aggregated_totals(stack, company["company_id"]) == (300, expected["talk_time_s"])
    move_zone(stack, company)
    return pool


def move_zone(stack: Stack, company: dict[str, str]) -> None:
    """The owner moves the company to Sao Paulo (-03:00): the day aggregates are rebuilt in the
    new zone (the worker's round), and the reports in it equal what the same range read in
    that zone before (`tz`, from quarters and calls)."""
    key, zone = company["api_key"], "America/Sao_Paulo"
    before = summary(stack, key, tz=zone)
    team = stack.api.get(
        "/v1/reports/working-hours",
        params={"from": "2026-03-02", "to": "2026-03-02", "tz": zone},
        headers={"Authorization": f"Bearer {key}"},
    ).json()
    name = stack.api.get("/v1/company", headers={"Authorization": f"Bearer {key}"}).json()["name"]
    owner = {"Authorization": f"Bearer {owner_token(stack, name)}"}
    moved = stack.api.patch("/v1/company", json={"timezone": zone}, headers=owner)
    assert moved.status_code == 200 and moved.json()["timezone"] == zone
    engine = make_engine(stack.env["CLOSECALL_DATABASE_URL"])

    def days_zone() -> str | None:
        with engine.connect() as conn:
            return conn.execute(
                sa.select(companies.c.rollup_zone).where(companies.c.id == company["company_id"])
            ).scalar_one()

    assert summary(stack, key) == before  # meanwhile: quarters, whatever the days say
    eventually(lambda: days_zone() == zone, timeout_s=60)
    engine.dispose()
    (zones,) = stack.clickhouse_rows(
        f"SELECT DISTINCT zone FROM call_days WHERE company_id = '{company['company_id']}'"
    )
    assert [row["zone"] for row in zones] == [zone]  # the old zone's days are gone
    assert summary(stack, key) == before
    assert (
        stack.api.get(
            "/v1/reports/working-hours",
            params={"from": "2026-03-02", "to": "2026-03-02"},
            headers={"Authorization": f"Bearer {key}"},
        ).json()
        == team
    )


def company_name(stack: Stack, key: str) -> str:
    return str(
        stack.api.get("/v1/company", headers={"Authorization": f"Bearer {key}"}).json()["name"]
    )


def test_calls_pipeline_on_chdb_and_sqlite(chdb_stack: Stack) -> None:
    run_upload_scenario(chdb_stack)


def test_calls_pipeline_on_clickhouse_server_and_postgres(server_stack: Stack) -> None:
    pool = run_upload_scenario(server_stack)
    # nothing in ClickHouse is a plaintext number: check the server's storage directly
    from clickhouse_driver import Client

    url = server_stack.env["CLOSECALL_CLICKHOUSE_URL"]
    port, database = re.match(r"clickhouse://127.0.0.1:(\d+)/(\w+)", url).groups()  # type: ignore[union-attr]
    client = Client(host="127.0.0.1", port=int(port), database=database)
    stored = "\n".join("|".join(row) for row in client.execute(STRING_COLUMNS))
    assert stored.count("\n") >= 299
    logs = "".join(server_stack.log(role) for role in ("ingest", "worker", "api"))
    for digits in pool:
        assert digits not in stored and digits[-7:] not in stored
        assert digits[-7:] not in logs
