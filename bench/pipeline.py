"""Ingest, worker, freshness and memory, each next to a baseline measured in the same run:
1. phones come back online and upload their backlog (batches of 100), sent by `wrk`
   (bench/wrk_load.py) -> accepted calls/s, request latency and a profile; baselines: the same
   wrk run against a floor endpoint (bench/floor.py: same uvicorn/FastAPI, no work) and
   kafka-python producing the same events to the same broker;
2. the worker drains the topic ingest filled -> calls/s; baseline: the transform alone and the
   raw insert of the same rows into ClickHouse (bench/raw_insert.py);
3. at a steady load, the time from ingest's 202 to the call in GET /v1/calls;
4. peak RSS of ingest and the worker throughout;
5. 2 and 3 again with a worker that keeps no per-employee aggregates (a new consumer group into
   a new chDB, `closecall worker --without-aggregates`): what keeping them costs."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from bench import wrk_load
from bench.stack import BenchStack, PeakRss
from core.settings import Settings
from deploy.fleet import (
    FleetConfig,
    Phone,
    client_numbers,
    drive_phone,
    enrol_phones,
    make_call,
    queue_offline_burst,
)
from deploy.local_stack import ChildProcess, free_port, http_ok, wait_until
from ingest.call_batches import validate_calls
from ingest.identity import DeviceIdentity
from schemas.events import stable_call_id

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class PipelineScale:
    phones: int
    backlog_calls: int  # uploaded through ingest, then drained by the worker
    steady_calls_per_s: int
    freshness_s: float


WORKER_GROUP: str = Settings.model_fields["worker_group"].default
PLAIN_GROUP = "bench-without-aggregates"
CALLS_TOPIC: str = Settings.model_fields["topic_calls_raw"].default
FLOOR_REPEATS = 5
TINY = PipelineScale(phones=2, backlog_calls=400, steady_calls_per_s=50, freshness_s=3)
QUICK = PipelineScale(phones=32, backlog_calls=100_000, steady_calls_per_s=2_000, freshness_s=20)
FULL = PipelineScale(phones=64, backlog_calls=1_000_000, steady_calls_per_s=2_000, freshness_s=60)


def percentiles(samples_s: list[float]) -> dict[str, float]:
    ordered = sorted(samples_s)
    if not ordered:
        return {"p50_ms": 0.0, "p99_ms": 0.0}

    def pick(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))] * 1000, 1)

    return {"p50_ms": pick(0.5), "p99_ms": pick(0.99)}


async def signup(api: httpx.AsyncClient) -> dict[str, str]:
    response = await api.post(
        "/v1/signup",
        json={
            "company_name": "Bench",
            "country": "IN",
            "email": f"bench{random.randrange(10**9)}@example.com",
            "password": "benchmark-password",
        },
    )
    result: dict[str, str] = response.raise_for_status().json()
    return result


def backlog_config(scale: PipelineScale) -> FleetConfig:
    """Phones that were offline for an hour, holding the whole backlog between them."""
    return FleetConfig(
        phones=scale.phones,
        calls_per_hour=scale.backlog_calls / scale.phones,
        offline_burst_s=3600,
        batch_max=100,
    )


async def setup(stack: BenchStack, scale: PipelineScale) -> tuple[str, str, list[Phone]]:
    """A company and its enrolled phones (needs the report API, which lives in the worker)."""
    async with (
        httpx.AsyncClient(base_url=stack.api_url, timeout=60) as api,
        httpx.AsyncClient(base_url=stack.ingest_url, timeout=60) as ingest,
    ):
        company = await signup(api)
        phones = await enrol_phones(api, ingest, company["api_key"], backlog_config(scale))
    return company["api_key"], company["company_id"], phones


def backlog_uploads(scale: PipelineScale, phones: list[Phone]) -> list[tuple[str, list[Any]]]:
    """The phones' backlog as uploads of 100 calls: (device token, calls)."""
    config = backlog_config(scale)
    clients = client_numbers(random.Random(config.seed), config.clients)
    now = datetime.now(UTC)
    uploads = []
    for phone in phones:
        queue_offline_burst(phone, clients, config, now)
        for start in range(0, len(phone.pending), config.batch_max):
            uploads.append((phone.token, phone.pending[start : start + config.batch_max]))
        phone.pending.clear()
    return uploads


def start_floor(stack: BenchStack) -> tuple[ChildProcess, str]:
    url = f"http://127.0.0.1:{free_port()}"
    argv = [sys.executable, "-m", "bench.floor", url.rpartition(":")[2]]
    child = stack.children["floor"] = ChildProcess("floor", argv, stack.workdir, stack.env())
    wait_until(lambda: http_ok(f"{url}/metrics"), child, 60)
    return child, url


def measure_ingest(
    stack: BenchStack, scale: PipelineScale, phones: list[Phone], rss: PeakRss, ingest_pid: int
) -> dict[str, Any]:
    """wrk sends the backlog once to the floor (same uvicorn/FastAPI, no work), then to ingest."""
    uploads = backlog_uploads(scale, phones)
    requests = stack.workdir / "uploads.txt"
    count = wrk_load.write_requests(requests, uploads)
    calls = sum(len(batch) for _token, batch in uploads)
    floor, floor_url = start_floor(stack)
    rss.watch("floor", floor.process.pid)
    # the floor answers far faster: the same uploads five times over make a run long enough
    # to time (it stores nothing, so repeats cost it what firsts do)
    repeated = stack.workdir / "floor-uploads.txt"
    repeated.write_text(requests.read_text() * FLOOR_REPEATS)
    floor_run = wrk_load.drive(floor_url, repeated, count * FLOOR_REPEATS)
    floor.stop()
    stack.children.pop("floor")
    ingest = wrk_load.drive(stack.ingest_url, requests, count, profile_pid=ingest_pid)
    accepted = accepted_calls(stack.ingest_url)
    elapsed = ingest["elapsed_s"]
    return {
        "calls": calls,
        "accepted": accepted,
        "requests": count,
        "calls_per_s": round(accepted / elapsed),
        "p50_ms": ingest["p50_ms"],
        "p99_ms": ingest["p99_ms"],
        "statuses": ingest["statuses"],
        "profile_pct": ingest.get("profile_pct", {}),
        "floor": {
            "calls_per_s": round(calls * FLOOR_REPEATS / floor_run["elapsed_s"]),
            "p50_ms": floor_run["p50_ms"],
            "p99_ms": floor_run["p99_ms"],
            "statuses": floor_run["statuses"],
        },
    }


def accepted_calls(url: str) -> int:
    return int(sum(value for _labels, value in wrk_load.counted(url, "closecall_calls_accepted")))


def raw_produce_rate(bootstrap: str, count: int) -> float:
    """kafka-python alone, acks=all, the same kind of events, to the same broker."""
    rng = random.Random(2)
    phone = Phone(token="", name="raw", rng=rng, id_prefix="raw")
    clients = client_numbers(rng, 60)
    now = datetime.now(UTC)
    device = DeviceIdentity("raw-device", "raw", "raw", tracking_enabled=True)
    events = validate_calls(
        [make_call(phone, clients, now, 330) for _ in range(count)], device, now
    ).events
    values = [event.model_dump_json().encode() for event in events]
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=2, batch_size=256 * 1024
    )
    producer.partitions_for("bench.raw-produce")  # create the topic and load metadata first
    started = time.perf_counter()
    futures = [producer.send("bench.raw-produce", key=b"raw-device", value=v) for v in values]
    for future in futures:
        future.get(30)
    elapsed = time.perf_counter() - started
    producer.close()
    return count / elapsed


async def total_calls(api: httpx.AsyncClient, api_key: str) -> int:
    """The summary's total of the last days, from the calls themselves (a range that starts a
    second after midnight, which no aggregate serves): what the worker stored, whether or not
    it keeps aggregates."""
    day = datetime.now(UTC).date()
    start = (day - timedelta(days=2)).isoformat()
    params = {
        "from": f"{start}T00:00:01Z",
        "to": (day + timedelta(days=1)).isoformat(),
    }
    response = await api.get(
        "/v1/reports/summary", params=params, headers={"Authorization": f"Bearer {api_key}"}
    )
    return int(response.json()["total_calls"]) if response.status_code == 200 else 0


def committed_offsets(admin: KafkaAdminClient, partitions: list[TopicPartition], group: str) -> int:
    offsets = admin.list_group_offsets({group: partitions})[group]
    return sum(max(meta.offset, 0) for meta in offsets.values())


def measure_worker(
    stack: BenchStack, api_key: str, expected: int, group: str = WORKER_GROUP
) -> dict[str, Any]:
    """The worker starts on a topic ingest already filled. Its rate runs from its first to its
    last offset commit (it commits only after ClickHouse has the rows), read from the broker:
    polling a report instead made the worker's own process run the report 10 times a second.
    Another `group` than the worker's is the baseline without aggregates."""
    consumer = KafkaConsumer(bootstrap_servers=stack.bootstrap)
    partitions = [
        TopicPartition(CALLS_TOPIC, p) for p in consumer.partitions_for_topic(CALLS_TOPIC)
    ]
    records = sum(consumer.end_offsets(partitions).values())
    consumer.close()
    admin = KafkaAdminClient(bootstrap_servers=stack.bootstrap)
    first_seen: tuple[float, int] | None = None
    deadline = time.monotonic() + 600
    while (done := committed_offsets(admin, partitions, group)) < records:
        if done and first_seen is None:
            first_seen = (time.perf_counter(), done)
        if time.monotonic() > deadline:
            raise RuntimeError(f"the worker committed {done} of {records} records within 600 s")
        time.sleep(0.1)  # every poll is two requests to a broker that shares the worker's CPUs
    finished = time.perf_counter()
    admin.close()
    stored = asyncio.run(stored_calls(stack, api_key))
    if stored != expected:
        raise RuntimeError(f"the worker stored {stored} of {expected} calls")
    if first_seen is None or records == first_seen[1]:
        return {"calls": expected, "calls_per_s": None}  # one commit: too small to time
    calls = (records - first_seen[1]) * expected / records
    return {
        "calls": expected,
        "calls_per_s": round(calls / max(finished - first_seen[0], 1e-3)),
        **clickhouse_seconds(stack),
    }


def clickhouse_seconds(stack: BenchStack) -> dict[str, float]:
    """The worker's time in ClickHouse writes (its /metrics, served with the report API): the
    calls' inserts and the per-employee aggregates recomputed after them, and the aggregates'
    share: what the drain would gain without them."""
    page = httpx.get(f"{stack.api_url}/metrics", timeout=10).text
    seconds = {
        sample.labels["table"]: sample.value
        for family in text_string_to_metric_families(page)
        if family.name == "closecall_clickhouse_insert_duration_seconds"
        for sample in family.samples
        if sample.name.endswith("_sum")
    }
    calls, aggregates = seconds.get("calls", 0.0), seconds.get("call_aggregates", 0.0)
    return {
        "calls_insert_s": round(calls, 2),
        "aggregates_s": round(aggregates, 2),
        "aggregates_share": round(aggregates / (calls + aggregates), 2) if aggregates else 0.0,
    }


async def stored_calls(stack: BenchStack, api_key: str) -> int:
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as api:
        return await total_calls(api, api_key)


async def measure_freshness(
    stack: BenchStack, scale: PipelineScale, api_key: str, phones: list[Phone], company_id: str
) -> dict[str, Any]:
    """A steady fleet load plus one probe phone: 202 -> visible in GET /v1/calls."""
    probe, *load = phones
    config = FleetConfig(
        phones=len(load),
        calls_per_hour=scale.steady_calls_per_s * 3600 / max(len(load), 1),
        upload_interval_s=1.0,
        batch_max=500,
    )
    clients = client_numbers(random.Random(3), config.clients)
    delays: list[float] = []
    refused: list[int] = []  # statuses of probe uploads ingest did not accept
    unseen = 0  # accepted probes not visible within 30 s
    async with (
        httpx.AsyncClient(base_url=stack.ingest_url, timeout=60) as ingest,
        httpx.AsyncClient(base_url=stack.api_url, timeout=30) as api,
    ):
        steady = [asyncio.create_task(drive_phone(p, ingest, config, clients)) for p in load]
        auth = {"Authorization": f"Bearer {api_key}"}
        deadline = time.monotonic() + scale.freshness_s
        try:
            while time.monotonic() < deadline:
                call = make_call(probe, clients, datetime.now(UTC), 330)
                answer = await ingest.post(
                    "/v1/calls",
                    json={"calls": [call]},
                    headers={"Authorization": f"Bearer {probe.token}"},
                )
                accepted_at = time.perf_counter()
                if answer.status_code != 202:
                    refused.append(answer.status_code)
                    await asyncio.sleep(0.3)
                    continue
                wanted = stable_call_id(company_id, probe.device_id, call["id"])
                # newest first, but by the second: an earlier probe of the same second may
                # come first, so look among the last few
                params: dict[str, str | int] = {"employee_id": probe.employee_id, "limit": 5}
                while time.perf_counter() - accepted_at < 30:
                    items = (await api.get("/v1/calls", params=params, headers=auth)).json()[
                        "items"
                    ]
                    if any(item["id"] == wanted for item in items):
                        delays.append(time.perf_counter() - accepted_at)
                        break
                    await asyncio.sleep(0.02)
                else:
                    unseen += 1
                await asyncio.sleep(0.3)
        finally:
            for task in steady:
                task.cancel()
            await asyncio.gather(*steady, return_exceptions=True)
    return {
        "steady_calls_per_s": scale.steady_calls_per_s,
        "probes": len(delays),
        "probes_refused": refused,
        "probes_unseen_after_30s": unseen,
        **percentiles(delays),
    }


def worker_baselines(workdir: Path, count: int, batch_rows: int) -> dict[str, Any]:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.raw_insert",
            str(workdir / "raw-chdb"),
            str(count),
            str(batch_rows),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def without_aggregates(
    stack: BenchStack, scale: PipelineScale, api_key: str, phones: list[Phone], company_id: str
) -> dict[str, Any]:
    """The same topic drained again by a worker that keeps no aggregates, into a new chDB under
    a new consumer group, then the same steady load: the baseline of the figures above."""
    stack.children.pop("worker").stop()
    stack.extra_env.update(
        CLOSECALL_WORKER_GROUP=PLAIN_GROUP,
        CLOSECALL_CLICKHOUSE_URL=f"chdb://{stack.workdir / 'chdb-without-aggregates'}",
    )
    stack.start("worker", "worker", "--with-api", "--without-aggregates")
    worker = measure_worker(stack, api_key, accepted_calls(stack.ingest_url), PLAIN_GROUP)
    freshness = asyncio.run(measure_freshness(stack, scale, api_key, phones, company_id))
    return {"worker": worker, "freshness": freshness}


def run(workdir: Path, scale: PipelineScale, progress: Progress) -> dict[str, Any]:
    stack = BenchStack(workdir)
    rss = PeakRss()
    try:
        progress("starting broker and ingest (the worker starts after the backlog is in Kafka)")
        stack.start_broker()
        stack.migrate()
        ingest_pid = stack.start("ingest", "ingest").process.pid
        rss.watch("ingest", ingest_pid)
        stack.start("setup", "worker", "--with-api")  # signup and enrollment need the report API
        api_key, company_id, phones = asyncio.run(setup(stack, scale))
        stack.children.pop("setup").stop()

        progress(
            f"ingest: wrk sends {scale.phones} phones' {scale.backlog_calls:,} calls in batches of"
            " 100, to the floor endpoint and then to ingest"
        )
        ingest = measure_ingest(stack, scale, phones, rss, ingest_pid)
        ingest["ratio_to_floor"] = round(ingest["calls_per_s"] / ingest["floor"]["calls_per_s"], 2)
        raw_rate = raw_produce_rate(stack.bootstrap, min(scale.backlog_calls, 200_000))
        ingest["raw_produce_calls_per_s"] = round(raw_rate)
        ingest["ratio_to_raw"] = round(ingest["calls_per_s"] / raw_rate, 2)

        progress("worker: draining the topic into chDB")
        rss.watch("worker", stack.start("worker", "worker", "--with-api").process.pid)
        worker = measure_worker(stack, api_key, ingest["accepted"])
        baselines = worker_baselines(workdir, min(scale.backlog_calls, 200_000), 5_000)
        worker.update(baselines)
        if worker["calls_per_s"]:
            worker["ratio_to_raw_insert"] = round(
                worker["calls_per_s"] / baselines["insert_rows_per_s"], 2
            )

        progress(f"freshness: {scale.steady_calls_per_s:,} calls/s for {scale.freshness_s:.0f} s")
        freshness = asyncio.run(measure_freshness(stack, scale, api_key, phones, company_id))
        progress("the same drain and load by a worker that keeps no per-employee aggregates")
        plain = without_aggregates(stack, scale, api_key, phones, company_id)
        return {
            "scale": dataclasses.asdict(scale),
            "ingest": ingest,
            "worker": worker,
            "freshness": freshness,
            "without_aggregates": plain,
            "peak_rss_mb": rss.stop(),
        }
    finally:
        rss.stop()
        stack.stop()
