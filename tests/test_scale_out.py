"""Scale-out on the engines themselves: two worker processes in one consumer group against the
ClickHouse server split the partitions between them (Kafka's group protocol), and when one is
SIGKILLed mid-stream the other takes its partitions over, every count exact.

On Tansu: noida-db never evicts a SIGKILLed member of a group (../shared/design/TESTING.md), so
its partitions would never move; Tansu, like Apache Kafka, evicts it after the session timeout."""

from __future__ import annotations

import functools
import random
import uuid

import httpx
from prometheus_client.parser import text_string_to_metric_families

from core.settings import Settings
from deploy.local_stack import free_port
from tests.conftest import StackFactory
from tests.support.calls import client_pool, expected_counts, realistic_calls
from tests.support.services import Broker, ClickHouseServer
from tests.support.stack import Stack, eventually
from tests.test_pipeline_e2e import DAY, aggregated_totals, summary, upload

DEVICES = 8  # records are keyed by device: eight spread over every partition
PARTITIONS = set(range(Settings().topic_partitions))


def held(port: int, topic: str) -> set[int]:
    """The partitions of `topic` a worker holds, as its /metrics reports their lag."""
    try:
        page = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    except httpx.HTTPError:
        return set()
    return {
        int(sample.labels["partition"])
        for family in text_string_to_metric_families(page)
        if family.name == "closecall_consumer_lag_records"
        for sample in family.samples
        if sample.labels["topic"] == topic
    }


def split(stack: Stack, ports: tuple[int, int], topic: str) -> bool:
    first, second = (held(port, topic) for port in ports)
    return bool(first and second) and not first & second and first | second == PARTITIONS


def test_two_workers_split_the_partitions_and_one_takes_over_the_other(
    make_stack: StackFactory,
    tansu_broker: Broker,
    clickhouse_server: ClickHouseServer,
    postgres_url: str,
) -> None:
    stack = make_stack(
        tansu_broker.bootstrap,
        clickhouse_server.url(f"cc_{uuid.uuid4().hex[:8]}"),
        postgres_url,
        env={"CLOSECALL_FLUSH_MAX_RECORDS": "1", "CLOSECALL_LAG_INTERVAL_S": "0.5"},
    )
    second_port = free_port()
    stack.spawn(
        "worker-2",
        "worker",
        env={
            "CLOSECALL_WORKER_INSTANCE_ID": "worker-2",
            "CLOSECALL_WORKER_METRICS_PORT": str(second_port),
            "CLOSECALL_HOOKS_METRICS_PORT": str(free_port()),
        },
    )
    raw = stack.env["CLOSECALL_TOPIC_CALLS_RAW"]
    ports = (stack.worker_metrics_port, second_port)
    eventually(lambda: split(stack, ports, raw), 90, 0.5)

    company = stack.signup(f"Scaled{uuid.uuid4().hex[:6]}")
    key = company["api_key"]
    tokens = [
        stack.enrolled_device(key, f"Agent {n}", f"hw-{n}")["device_token"] for n in range(DEVICES)
    ]
    rng = random.Random("scale-out")
    pool = client_pool(rng, 200)  # one company's clients, called from every phone
    generated = [realistic_calls(rng, 1_500, DAY, pool, f"d{n}-") for n in range(DEVICES)]
    expected = expected_counts([call for calls in generated for call in calls])
    for token, calls in zip(tokens, generated, strict=True):
        wire = [call.wire() for call in calls]
        for start in range(0, len(wire), 250):
            assert upload(stack, token, wire[start : start + 250]).json()["accepted"] == 250

    def stored_beyond(count: int) -> int:
        total = int(summary(stack, key)["total_calls"])
        return total if total > count else 0

    stored = eventually(functools.partial(stored_beyond, 0), 60, 0.05)
    assert stored < expected["total_calls"], "stored before the kill: raise the volume"
    stack.kill_worker("worker-2")  # mid-stream: its uncommitted batches are read again
    eventually(lambda: held(ports[0], raw) == PARTITIONS, 90, 0.5)
    eventually(lambda: summary(stack, key)["total_calls"] == expected["total_calls"], 180)
    got = summary(stack, key)
    assert {k: got[k] for k in expected} == expected
    # the per-employee aggregates too: each call once, whichever worker recomputed its buckets
    totals = (expected["total_calls"], expected["talk_time_s"])
    assert aggregated_totals(stack, company["company_id"]) == totals
