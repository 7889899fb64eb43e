"""What the stack costs while nothing happens: the CPU of every process (broker, ingest, the
worker with the report API and chDB, the hooks worker) over a window with no phone uploading
and no hook subscribed, next to the same stack's CPU in the same run while phones upload a
steady load (the baseline: what the machine pays when it works)."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench.pipeline import signup
from bench.stack import BenchStack
from deploy.fleet import FleetConfig, client_numbers, enrol_phones, make_call

Progress = Callable[[str], None]
SETTLE_S = 15.0  # start-up work (migrations, group joins, first timers) is not idle cost
BUSY_CALLS_PER_S = 100


def process_tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:  # a child that ended: its time is gone from both ends
            continue
        total += times.user + times.system
    return total


def cpu_share(stack: BenchStack, seconds: float) -> dict[str, float]:
    """Per process of the stack (children included), % of one core over `seconds`."""
    trees = {name: process_tree(child.process.pid) for name, child in stack.children.items()}
    before = {name: cpu_seconds(tree) for name, tree in trees.items()}
    started = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - started
    shares = {
        name: round(100 * (cpu_seconds(tree) - before[name]) / elapsed, 2)
        for name, tree in trees.items()
    }
    return {**shares, "total": round(sum(shares.values()), 2)}


async def upload_steadily(stack: BenchStack, stop: threading.Event) -> int:
    """Ten phones uploading BUSY_CALLS_PER_S calls a second in all until `stop`; calls taken."""
    async with (
        httpx.AsyncClient(base_url=stack.api_url, timeout=60) as api,
        httpx.AsyncClient(base_url=stack.ingest_url, timeout=60) as ingest,
    ):
        company = await signup(api)
        config = FleetConfig(phones=10, calls_per_hour=1, batch_max=500)
        phones = await enrol_phones(api, ingest, company["api_key"], config)
        clients = client_numbers(random.Random(7), 500)
        per_phone = BUSY_CALLS_PER_S // len(phones)
        taken = 0
        while not stop.is_set():
            tick = time.monotonic()
            for phone in phones:
                calls = [make_call(phone, clients, datetime.now(UTC), 1) for _ in range(per_phone)]
                answer = await ingest.post(
                    "/v1/calls",
                    json={"calls": calls},
                    headers={"Authorization": f"Bearer {phone.token}"},
                )
                taken += answer.json().get("accepted", 0) if answer.status_code == 202 else 0
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
        return taken


def run(workdir: Path, seconds: float, progress: Progress) -> dict[str, Any]:
    stack = BenchStack(workdir / "idle")
    try:
        stack.start_broker()
        stack.migrate()
        stack.start("ingest", "ingest")
        stack.start("worker", "worker", "--with-api")
        settle_s = min(SETTLE_S, seconds)
        progress(f"idle: settling {settle_s:.0f} s, then {seconds:.0f} s with nothing happening")
        time.sleep(settle_s)
        idle = cpu_share(stack, seconds)
        progress(f"idle: {idle['total']}% of a core; now {seconds:.0f} s of uploads")
        stop = threading.Event()
        taken: list[int] = []
        load = threading.Thread(
            target=lambda: taken.append(asyncio.run(upload_steadily(stack, stop))), daemon=True
        )
        load.start()
        time.sleep(5)  # phones enrolled, uploads flowing
        busy = cpu_share(stack, seconds)
        stop.set()
        load.join(60)
        progress(f"idle: busy {busy['total']}% of a core")
    finally:
        stack.stop()
    return {
        "seconds": seconds,
        "idle_pct_of_core": idle,
        "busy_pct_of_core": busy,
        "busy_calls_per_s": BUSY_CALLS_PER_S,
        "busy_calls_taken": taken[0] if taken else 0,
    }
