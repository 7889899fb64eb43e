"""The worker's stored calls/s into a replicated pair next to a single server, in one run:
phones' backlog uploaded once through ingest, then drained by the worker under a new consumer
group into each target in turn, `rounds` times each, alternating (a noisy machine hits both alike):
- a single ClickHouse 18.16 server, the tables as `closecall migrate` makes them;
- two 18.16 replicas of one shard with Debian's ZooKeeper (deploy/README.md "Replication"),
  through the Distributed tables the services use (`insert_distributed_sync = 1`: an insert
  returns once a replica has the rows, and the other fetches them).
The rate runs from the worker's first to its last offset commit (bench/pipeline.py)."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import httpx

from bench.pipeline import (
    PipelineScale,
    Progress,
    accepted_calls,
    backlog_uploads,
    measure_worker,
    setup,
)
from bench.stack import BenchStack
from core.clickhouse import Replication, connect, migrate
from core.clickhouse_shards import distribute


async def upload(ingest_url: str, uploads: list[tuple[str, list[Any]]]) -> None:
    """Every upload once, eight at a time."""
    gate = asyncio.Semaphore(8)
    async with httpx.AsyncClient(base_url=ingest_url, timeout=60) as ingest:

        async def one(token: str, calls: list[Any]) -> None:
            async with gate:
                answer = await ingest.post(
                    "/v1/calls", json={"calls": calls}, headers={"Authorization": f"Bearer {token}"}
                )
                answer.raise_for_status()

        await asyncio.gather(*(one(token, calls) for token, calls in uploads))


def run(workdir: Path, scale: PipelineScale, rounds: int, progress: Progress) -> dict[str, Any]:
    # the test suite's launchers of real servers, as bench/privacy.py uses them
    from tests.support.services import ClickHouseServer, ReplicatedPair

    (workdir / "single").mkdir(parents=True)
    single = ClickHouseServer(workdir / "single")
    pair = ReplicatedPair(workdir / "pair")
    stack = BenchStack(workdir / "stack")
    try:
        progress("replication: a single ClickHouse server, and two replicas with ZooKeeper")
        single.start()
        pair.start()
        targets: dict[str, list[str]] = {"single": [], "pair": []}
        for round_ in range(rounds):
            targets["single"].append(single.url(f"single{round_}"))
            replicated = connect(pair.first.url(f"shard{round_}"))
            migrate(replicated, replication=Replication(pair.path, "closecall"))
            replicated.close()
            services = connect(pair.first.url(f"services{round_}"))
            distribute(services, "closecall", f"shard{round_}")
            services.close()
            targets["pair"].append(pair.first.url(f"services{round_}"))
        stack.start_broker()
        for url in targets["single"]:
            stack.extra_env["CLOSECALL_CLICKHOUSE_URL"] = url
            stack.migrate()  # the control plane, the topics, and this database
        stack.start("ingest", "ingest")
        stack.start("setup", "worker", "--with-api")
        api_key, _company, phones = asyncio.run(setup(stack, scale))
        stack.children.pop("setup").stop()
        progress(f"replication: {scale.backlog_calls:,} calls uploaded through ingest")
        asyncio.run(upload(stack.ingest_url, backlog_uploads(scale, phones)))
        expected = accepted_calls(stack.ingest_url)
        rates: dict[str, list[int | None]] = {"single": [], "pair": []}
        for round_ in range(rounds):
            for name in ("single", "pair"):
                progress(f"replication: round {round_ + 1}, the worker drains into {name}")
                group = f"bench-{name}-{round_}"
                stack.extra_env.update(
                    CLOSECALL_WORKER_GROUP=group,
                    CLOSECALL_CLICKHOUSE_URL=targets[name][round_],
                )
                stack.start("worker", "worker", "--with-api")
                rates[name].append(measure_worker(stack, api_key, expected, group)["calls_per_s"])
                stack.children.pop("worker").stop()
        best = {name: max((r for r in runs if r), default=None) for name, runs in rates.items()}
        return {
            "scale": dataclasses.asdict(scale),
            "calls": expected,
            "rounds": rounds,
            "calls_per_s": rates,
            "ratio": round(best["pair"] / best["single"], 2)
            if best["pair"] and best["single"]
            else None,
        }
    finally:
        stack.stop()
        pair.discard()
        single.discard()
