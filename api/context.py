"""What every report-API request needs, built once per process: settings and store handles."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from core.clickhouse import ClickHouse
from core.devices.push import SyncPusher
from core.number_crypto import MasterKey
from core.settings import Settings


@dataclass(frozen=True, slots=True)
class ApiContext:
    settings: Settings
    engine: Engine
    clickhouse: ClickHouse
    master_key: MasterKey
    pusher: SyncPusher
    # set when the API is served from the worker process: its readiness includes the broker
    worker_bootstrap: str | None = None
