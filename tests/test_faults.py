"""Faults on the real stack: the broker down at upload time, the worker killed mid-stream."""

from __future__ import annotations

import functools
import json
import random
import uuid
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, KafkaProducer

from tests.conftest import StackFactory
from tests.support.calls import Call, client_pool, expected_counts, realistic_calls
from tests.support.services import Broker
from tests.support.stack import Stack, eventually
from tests.test_pipeline_e2e import DAY, aggregated_totals, history, summary, upload


def enrolled(stack: Stack, company: str) -> tuple[str, str]:
    key = stack.signup(company)["api_key"]
    return key, stack.enrolled_device(key, "Asha", "hw-1")["device_token"]


def calls_of(count: int, prefix: str) -> list[Call]:
    rng = random.Random(prefix)
    return realistic_calls(rng, count, DAY, client_pool(rng, 50), prefix=prefix)


def wire_calls(count: int, prefix: str) -> list[dict[str, Any]]:
    return [call.wire() for call in calls_of(count, prefix)]


def test_broker_down_answers_503_and_accepts_nothing(
    make_stack: StackFactory, tmp_path: Path
) -> None:
    broker = Broker("noida", tmp_path / "broker")
    broker.workdir.mkdir()
    broker.start()
    try:
        stack = make_stack(broker.bootstrap)
        key, token = enrolled(stack, "Brokerless")
        assert upload(stack, token, wire_calls(40, "before-")).status_code == 202

        broker.stop()
        refused = upload(stack, token, wire_calls(30, "during-"))
        assert refused.status_code == 503, refused.text
        assert refused.headers["Retry-After"] == "5"
        assert refused.json()["error"]["code"] == "broker_unavailable"
        for service in (stack.ingest, stack.api):  # the API here lives in the worker process
            not_ready = service.get("/readyz")
            assert not_ready.status_code == 503
            assert "Kafka unreachable" in not_ready.json()["error"]["message"]

        broker.start()  # same port, same data directory
        eventually(lambda: upload(stack, token, wire_calls(20, "after-")).status_code == 202, 60, 1)
        stored: list[int] = []  # what the summary said each time: a failure shows the last

        def all_stored() -> bool:
            stored.append(int(summary(stack, key)["total_calls"]))
            return stored[-1] == 60

        try:
            eventually(all_stored, 90)
        finally:
            ids = {item["id"] for item in history(stack, key)}
            print(f"the summary said {stored[-1:]} calls, the history holds {len(ids)}")
        assert len(ids) == 60
    finally:
        broker.stop()


def test_worker_killed_mid_stream_counts_every_call_once(
    make_stack: StackFactory, broker: Broker
) -> None:
    stack = make_stack(broker.bootstrap, env={"CLOSECALL_FLUSH_MAX_RECORDS": "1"})
    made = stack.signup("Killed")
    key = made["api_key"]
    token = stack.enrolled_device(key, "Asha", "hw-1")["device_token"]
    generated = calls_of(12_000, "k-")
    expected = expected_counts(generated)
    calls = [call.wire() for call in generated]
    for start in range(0, len(calls), 500):
        assert upload(stack, token, calls[start : start + 500]).json()["accepted"] == 500

    def stored_beyond(count: int) -> int:
        total = int(summary(stack, key)["total_calls"])
        return total if total > count else 0

    kills, stored = 0, 0
    while kills < 2:
        # kill only after the (restarted) worker stored more: each kill lands mid-stream
        stored = eventually(functools.partial(stored_beyond, stored), 60, 0.05)
        if stored >= len(calls):
            break
        stack.kill_worker()
        kills += 1
        stack.start_worker()
    assert kills >= 1, "the worker finished before it could be killed: raise the volume"
    eventually(lambda: summary(stack, key)["total_calls"] == len(calls), 120)
    got = summary(stack, key)
    assert {k: got[k] for k in expected} == expected
    # the per-employee aggregates too: every batch replayed after a kill recomputed, not added
    totals = aggregated_totals(stack, made["company_id"])
    assert totals == (len(calls), expected["talk_time_s"])


def test_unprocessable_records_go_to_the_dead_letter_topic(
    chdb_stack: Stack, broker: Broker
) -> None:
    stack = chdb_stack
    key, token = enrolled(stack, "Letters")
    raw_topic = stack.env["CLOSECALL_TOPIC_CALLS_RAW"]
    stranger = json.dumps(
        {
            "type": "calls.recorded",
            "version": 1,
            "event_id": str(uuid.uuid4()),
            "occurred_at": "2026-03-02T10:00:00+05:30",
            "company_id": "no-such-company",
            "device_id": "d",
            "employee_id": "e",
            "payload": {
                "synced_at": "2026-03-02T10:00:01+00:00",
                "calls": [{**wire_calls(1, "x-")[0], "number": "9123456789"}],
            },
        }
    ).encode()
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    for value in (b"{not json", stranger):
        producer.send(raw_topic, key=b"d", value=value).get(10)
    producer.close()
    assert upload(stack, token, wire_calls(10, "ok-")).status_code == 202
    eventually(lambda: summary(stack, key)["total_calls"] == 10)

    letters = dead_letters(stack, broker)
    assert [(letter["topic"], letter["reason"].split(" (")[0]) for letter in letters] == [
        (raw_topic, "not a calls.recorded v1 event"),
        (raw_topic, "unknown company no-such-company"),
    ]
    assert "9123456789" not in stack.log("worker")


def dead_letters(stack: Stack, broker: Broker) -> list[dict[str, Any]]:
    """Every record on the stack's dead-letter topic so far."""
    consumer = KafkaConsumer(
        stack.env["CLOSECALL_TOPIC_DEAD_LETTER"],
        bootstrap_servers=broker.bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=5000,
    )
    letters = [json.loads(message.value) for message in consumer]
    consumer.close()
    return letters
