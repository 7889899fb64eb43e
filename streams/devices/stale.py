"""The calls worker's rounds over devices that went quiet: a push to wake each, the fleet's
states as a gauge, and `device.stale` for the companies with a hook for it (repeats are
dropped by id). A failed round is tried again at the next tick."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

import faust
from sqlalchemy.engine import Engine

from core.clickhouse import ClickHouse
from core.clock import utc_now
from core.devices.health import fleet_states, push_stale_devices
from core.devices.push import SyncPusher
from core.devices.views import stale_device_events
from core.metrics import DEVICES
from schemas.events import IntegrationEvents
from streams.faust_app import Publisher

log = logging.getLogger(__name__)


def watch_stale_devices(
    app: faust.App,
    interval_s: float,
    engine: Engine,
    clickhouse: ClickHouse,
    pusher: SyncPusher,
    publish: Publisher,
) -> None:
    def push(now: datetime) -> None:
        push_stale_devices(engine, clickhouse, pusher, now)

    def count(now: datetime) -> None:
        for state, devices in fleet_states(engine, clickhouse, now).items():
            DEVICES.labels(state).set(devices)

    def announce(now: datetime) -> list[IntegrationEvents]:
        with engine.connect() as conn:
            return stale_device_events(conn, clickhouse, now)

    @app.timer(interval_s)
    async def stale_devices() -> None:
        loop = asyncio.get_running_loop()
        steps: tuple[Callable[[datetime], list[IntegrationEvents] | None], ...] = (
            push,
            count,
            announce,
        )
        for step in steps:  # each on its own: one failing skips no other
            try:
                records = await loop.run_in_executor(None, step, utc_now())
                if records:
                    await publish.records(records)
            except Exception as exc:
                log.warning("stale-device round (%s) failed: %r", step.__name__, exc)
