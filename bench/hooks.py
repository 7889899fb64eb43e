"""Webhooks, each figure next to a baseline of the same run:
1. deliveries per second from one worker's delivery loop (the fan-out's transaction, then sign,
   send and record each outcome in the control plane) to a local receiver; baseline: a bare httpx client posting the
   same signed bodies to the same receiver with the same concurrency;
2. at a steady load of calls, the time from ingest's 202 of an upload to the receiver's
   delivery of its `call.created`."""

from __future__ import annotations

import asyncio
import random
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import Engine

from bench.pipeline import percentiles, signup
from bench.stack import BenchStack
from core.accounts.directory import CompanyDirectory
from core.controlplane import companies, hooks, make_engine, migrate
from core.hooks.delivery import render
from core.hooks.events import record_events
from core.hooks.sender import Sender
from core.hooks.signing import new_secret, signed_headers
from core.number_crypto import encrypt_secret, new_wrapped_data_key, unwrap_company_keys
from core.settings import Settings
from deploy.fleet import FleetConfig, client_numbers, enrol_phones, make_call
from deploy.local_stack import ChildProcess, free_port, http_ok, wait_until
from schemas.events import IntegrationEvent, integration_event_id, stable_call_id
from streams.hooks.deliveries import DeliveryLoop

Progress = Callable[[str], None]
MASTER_KEY = bytes(range(32))
DEFAULTS = Settings(environment="test")
LATENCY_RATES = (500, 200)  # the goal's rate, and one this machine keeps up with


def start_receiver(workdir: Path) -> tuple[ChildProcess, str]:
    port = free_port()
    argv = [sys.executable, "-m", "bench.receiver", str(port)]
    child = ChildProcess("receiver", argv, workdir, {})
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: http_ok(f"{url}/arrivals"), child, 30)
    return child, url


def seeded_hooks(engine: Engine, url: str, count: int) -> tuple[str, Any]:
    """A company with `count` hooks to the receiver; returns its id and keys."""
    company_id = str(uuid.uuid4())
    wrapped = new_wrapped_data_key(MASTER_KEY, company_id)
    keys = unwrap_company_keys(MASTER_KEY, company_id, wrapped)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            companies.insert().values(
                id=company_id,
                name="Bench",
                country="IN",
                timezone="Asia/Kolkata",
                plan="basic",
                wrapped_data_key=wrapped,
                created_at=now,
            )
        )
        conn.execute(
            hooks.insert(),
            [
                {
                    "id": str(uuid.uuid4()),
                    "company_id": company_id,
                    "event": "call.created",
                    "target_url": f"{url}/hook/{index}",
                    "numbers": "masked",
                    "secret_enc": encrypt_secret(keys, new_secret()),
                    "created_at": now,
                    "creator_type": "api_key",
                    "creator_id": "bench",
                }
                for index in range(count)
            ],
        )
    return company_id, keys


def bench_events(company_id: str, count: int) -> list[IntegrationEvent]:
    return [
        IntegrationEvent(
            id=integration_event_id("call.created", f"bench-{index}"),
            type="call.created",
            company_id=company_id,
            occurred_at=datetime.now(UTC),
            data={"id": f"bench-{index}", "number": "+91******3210", "type": "incoming"},
        )
        for index in range(count)
    ]


async def deliver_all(engine: Engine, made: list[IntegrationEvent]) -> float:
    """As the worker does: the fan-out records the deliveries and hands them to the loop."""
    loop = DeliveryLoop(
        engine,
        CompanyDirectory(engine, MASTER_KEY),
        Sender(DEFAULTS.hook_timeout_s, allow_private=True),
        concurrency=DEFAULTS.hook_concurrency,
        per_hook=DEFAULTS.hook_per_target,
        lease_s=DEFAULTS.hook_lease_s,
        poll_interval_s=0.05,
    )
    started = time.perf_counter()
    with engine.begin() as conn:
        loop.submit(record_events(conn, made, datetime.now(UTC), DEFAULTS.hook_lease_s))
    while loop.ready or loop.tasks:
        await loop.run_once(poll=False)
        if loop.tasks:
            await asyncio.wait(list(loop.tasks), return_when=asyncio.FIRST_COMPLETED)
    await loop.drain()  # every outcome recorded
    elapsed = time.perf_counter() - started
    await loop.sender.close()
    return elapsed


async def bare_posts(bodies: list[tuple[str, bytes, dict[str, str]]], per_hook: int) -> float:
    """The baseline: the same signed bodies, posted by httpx alone at its best -- a client per
    hook (one shared pool is several times slower: httpcore scans it per request) with the
    loop's concurrency per hook -- and nothing else."""
    by_url: dict[str, list[tuple[bytes, dict[str, str]]]] = {}
    for url, body, headers in bodies:
        by_url.setdefault(url, []).append((body, headers))

    async def hook(url: str, queue: list[tuple[bytes, dict[str, str]]]) -> None:
        limits = httpx.Limits(max_connections=per_hook)
        async with httpx.AsyncClient(timeout=15, limits=limits) as client:

            async def worker() -> None:
                while queue:
                    body, headers = queue.pop()
                    (await client.post(url, content=body, headers=headers)).raise_for_status()

            await asyncio.gather(*(worker() for _ in range(per_hook)))

    started = time.perf_counter()
    await asyncio.gather(*(hook(url, queue) for url, queue in by_url.items()))
    return time.perf_counter() - started


def delivery_rate(engine: Engine, url: str, events: int, hook_count: int) -> dict[str, Any]:
    migrate(engine)
    company_id, keys = seeded_hooks(engine, url, hook_count)
    made = bench_events(company_id, events)
    deliveries = events * hook_count
    ours_s = asyncio.run(deliver_all(engine, made))
    secret = new_secret()
    bodies = [
        (
            f"{url}/hook/{index}",
            body := render(event, "masked", keys),
            signed_headers(secret, event.id, int(time.time()), body),
        )
        for event in made
        for index in range(hook_count)
    ]
    concurrency = min(DEFAULTS.hook_concurrency, hook_count * DEFAULTS.hook_per_target)
    bare_s = asyncio.run(bare_posts(bodies, DEFAULTS.hook_per_target))
    ours, bare = deliveries / ours_s, deliveries / bare_s
    return {
        "deliveries": deliveries,
        "hooks": hook_count,
        "concurrency": concurrency,
        "deliveries_per_s": round(ours),
        "bare_httpx_per_s": round(bare),
        "ratio_to_bare": round(ours / bare, 2),
    }


async def steady_latency(
    stack: BenchStack, receiver_url: str, calls_per_s: int, seconds: float
) -> dict[str, Any]:
    """Phones uploading `calls_per_s` in batches every 100 ms; per call, the receiver's arrival
    time minus the time ingest answered 202."""
    async with (
        httpx.AsyncClient(base_url=stack.api_url, timeout=60) as api,
        httpx.AsyncClient(base_url=stack.ingest_url, timeout=60) as ingest,
    ):
        company = await signup(api)
        auth = {"Authorization": f"Bearer {company['api_key']}"}
        answer = await api.post(
            "/v1/hooks",
            json={"event": "call.created", "target_url": f"{receiver_url}/hook"},
            headers=auth,
        )
        answer.raise_for_status()
        config = FleetConfig(phones=10, calls_per_hour=1, batch_max=500)
        phones = await enrol_phones(api, ingest, company["api_key"], config)
        clients = client_numbers(random.Random(5), 500)
        per_tick = max(1, calls_per_s // 10 // len(phones))
        accepted_at: dict[str, float] = {}
        deadline = time.monotonic() + seconds
        refused = 0
        while time.monotonic() < deadline:
            tick = time.monotonic()
            uploads = []
            for phone in phones:
                calls = [make_call(phone, clients, datetime.now(UTC), 1) for _ in range(per_tick)]
                uploads.append((phone, calls))

            async def send(phone: Any, calls: list[dict[str, Any]]) -> None:
                nonlocal refused
                headers = {"Authorization": f"Bearer {phone.token}"}
                response = await ingest.post("/v1/calls", json={"calls": calls}, headers=headers)
                if response.status_code != 202:
                    refused += 1
                    return
                now = time.time()
                for call in calls:
                    accepted_at[
                        stable_call_id(company["company_id"], phone.device_id, call["id"])
                    ] = now

            await asyncio.gather(*(send(phone, calls) for phone, calls in uploads))
            await asyncio.sleep(max(0.0, 0.1 - (time.monotonic() - tick)))
        async with httpx.AsyncClient(base_url=receiver_url, timeout=30) as receiver:
            arrivals: dict[str, float] = {}
            settle = time.monotonic() + 60
            while time.monotonic() < settle:
                arrivals = (await receiver.get("/arrivals")).json()
                if all(call_id in arrivals for call_id in accepted_at):
                    break
                await asyncio.sleep(0.5)
    delays = [arrivals[c] - t for c, t in accepted_at.items() if c in arrivals]
    seen = [arrivals[c] for c in accepted_at if c in arrivals]
    return {
        "accepted_span_s": round(max(accepted_at.values()) - min(accepted_at.values()), 1),
        "delivered_span_s": round(max(seen) - min(seen), 1) if seen else 0,
        "calls_per_s": per_tick * len(phones) * 10,
        "calls": len(accepted_at),
        "delivered": len(delays),
        "uploads_refused": refused,
        **percentiles(delays),
    }


def run(workdir: Path, events: int, latency_s: float, progress: Progress) -> dict[str, Any]:
    workdir.mkdir(parents=True, exist_ok=True)
    receiver, receiver_url = start_receiver(workdir)
    try:
        progress(f"hooks: {events:,} events to 4 hooks from one delivery loop, then bare httpx")
        rate = delivery_rate(
            make_engine(f"sqlite:///{workdir / 'deliveries.db'}"), receiver_url, events, 4
        )
    finally:
        receiver.stop()
    stack = BenchStack(
        workdir / "stack",
        extra_env={"CLOSECALL_HOOKS_ALLOW_PRIVATE": "true", "CLOSECALL_HOOK_POLL_INTERVAL_S": "1"},
    )
    receiver, receiver_url = start_receiver(workdir)
    try:
        stack.start_broker()
        stack.migrate()
        stack.start("ingest", "ingest")
        stack.start("worker", "worker", "--with-api")
        latency = {}
        for calls_per_s in LATENCY_RATES:
            progress(f"hooks: 202 -> delivery at {calls_per_s} calls/s for {latency_s:.0f} s")
            latency[calls_per_s] = asyncio.run(
                steady_latency(stack, receiver_url, calls_per_s, latency_s)
            )
    finally:
        stack.stop()
        receiver.stop()
    return {"rate": rate, "latency": latency}
