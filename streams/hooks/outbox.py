"""The report API's events (leads), from its outbox onto the integration topic: each leaves the
outbox once Kafka has it (a crash in between sends it again: same id). An empty outbox is read
again less often, up to IDLE_POLLS poll intervals apart."""

from __future__ import annotations

import asyncio

import faust
from sqlalchemy.engine import Engine

from core.hooks.events import outbox_batch, relayed
from schemas.events import IntegrationEvents
from streams.faust_app import Publisher
from streams.hooks.deliveries import IDLE_POLLS
from streams.pacing import Pace, run_rounds


def relay_outbox(app: faust.App, engine: Engine, publish: Publisher, poll_s: float) -> None:
    def outbox() -> list[IntegrationEvents]:
        with engine.connect() as conn:
            return outbox_batch(conn)

    def forget(records: list[IntegrationEvents]) -> None:
        with engine.begin() as conn:
            relayed(conn, records)

    async def relay_round() -> bool:
        loop = asyncio.get_running_loop()
        records = await loop.run_in_executor(None, outbox)
        if records:
            await publish.records(records)
            await loop.run_in_executor(None, forget, records)
        return bool(records)

    @app.task
    async def relay() -> None:
        await run_rounds(relay_round, Pace(poll_s, poll_s * IDLE_POLLS), "outbox relay")
