"""One bad phone cannot stall the worker: out-of-range values are refused at ingest, a planted
record the worker cannot store is dead-lettered while everything else is stored, and a worker
retrying an outage still stops on SIGTERM."""

from __future__ import annotations

import json
import signal
import time
import uuid
from pathlib import Path
from typing import Any

from kafka import KafkaProducer

from tests.conftest import StackFactory
from tests.support.services import Broker, ClickHouseServer
from tests.support.stack import Stack, eventually
from tests.test_devices_e2e import status
from tests.test_faults import dead_letters, enrolled, wire_calls
from tests.test_pipeline_e2e import summary, upload

HUGE = 1000000000000000000000000000000


def test_the_reported_status_payload_is_refused_at_ingest(module_stack: Stack) -> None:
    _key, token = enrolled(module_stack, "Huge")
    for code in (HUGE, 2**32):
        answer = status(
            module_stack,
            token,
            {"at": "2026-03-02T10:30:00+05:30", "battery_pct": 50, "app_version_code": code},
        )
        assert answer.status_code == 422, answer.text
        assert [f["path"] for f in answer.json()["error"]["fields"]] == ["app_version_code"]


def battery_of(stack: Stack, key: str) -> Any:
    items = stack.api.get("/v1/devices", headers={"Authorization": f"Bearer {key}"}).json()
    return items["items"][0]["battery_pct"] if items["items"] else None


def test_a_planted_status_is_dead_lettered_and_the_rest_stored(
    module_stack: Stack, broker: Broker
) -> None:
    stack = module_stack
    key, token = enrolled(stack, "Planted")
    other_key, other_token = enrolled(stack, "Bystander")
    device_id = stack.api.get("/v1/devices", headers={"Authorization": f"Bearer {key}"}).json()
    poisoned = {
        "type": "device.status",
        "version": 1,
        "event_id": str(uuid.uuid4()),
        "occurred_at": "2026-03-02T10:30:00+05:30",
        "received_at": "2026-03-02T10:30:01+00:00",
        "company_id": device_id["items"][0]["id"] and "planted",
        "device_id": device_id["items"][0]["id"],
        "employee_id": device_id["items"][0]["employee_id"],
        "payload": {"at": "2026-03-02T10:30:00+05:30", "battery_pct": 5, "app_version_code": HUGE},
    }
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    producer.send(
        stack.env["CLOSECALL_TOPIC_DEVICE_STATUS"],
        key=b"planted",
        value=json.dumps(poisoned).encode(),
    ).get(10)
    producer.close()
    now = "2026-03-02T10:31:00+05:30"
    assert status(stack, token, {"at": now, "battery_pct": 61}).status_code == 202
    assert status(stack, other_token, {"at": now, "battery_pct": 62}).status_code == 202
    assert eventually(lambda: battery_of(stack, key), 60) == 61
    assert eventually(lambda: battery_of(stack, other_key), 60) == 62
    reasons = [
        letter["reason"]
        for letter in dead_letters(stack, broker)
        if letter["topic"] == stack.env["CLOSECALL_TOPIC_DEVICE_STATUS"]
    ]
    assert reasons == ["not a device.status v1 event (fields: payload.app_version_code)"]
    assert str(HUGE) not in stack.log("worker")


def test_sigterm_stops_a_worker_that_retries_an_outage_and_no_password_shows(
    make_stack: StackFactory, broker: Broker, tmp_path: Path, postgres_url: str
) -> None:
    server = ClickHouseServer(tmp_path / "clickhouse")
    server.workdir.mkdir()
    server.start()
    pg_secret = "pg-secret-91c2"
    database_url = postgres_url.replace("postgres@", f"postgres:{pg_secret}@", 1)  # trust auth
    secrets = (server.PASSWORD, pg_secret)
    assert pg_secret in database_url
    try:
        stack = make_stack(broker.bootstrap, server.url("outage", with_password=True), database_url)
        key, token = enrolled(stack, "Outage")
        server.stop()
        assert upload(stack, token, wire_calls(20, "o-")).status_code == 202
        eventually(lambda: "failed (attempt 2" in stack.log("worker"), 60)
        not_ready = stack.api.get("/readyz")
        assert not_ready.status_code == 503 and "ClickHouse (clickhouse://closecall:***@" in (
            not_ready.text
        )
        worker = stack.processes.pop("worker")
        stopping = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        worker.wait(20)
        assert time.monotonic() - stopping < 15
        server.start()
        stack.start_worker()  # the uncommitted records are read again and stored
        eventually(lambda: summary(stack, key)["total_calls"] == 20, 90)
        answers = [stack.api.get("/readyz").text, stack.ingest.get("/readyz").text]
        logs = [stack.log(role) for role in ("worker", "api", "ingest")]
        for secret in secrets:
            assert not [text for text in answers + logs if secret in text], secret
    finally:
        server.stop()
