"""What every report-API request needs, built once per process: settings and store handles."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from schemas.clickhouse import ClickHouse
from schemas.settings import Settings
from streams.push import SyncPusher


@dataclass(frozen=True, slots=True)
class ApiContext:
    settings: Settings
    engine: Engine
    clickhouse: ClickHouse
    master_key: bytes
    pusher: SyncPusher
    # set when the API is served from the worker process: its readiness includes the broker
    worker_bootstrap: str | None = None
