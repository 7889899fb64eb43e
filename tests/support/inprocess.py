"""The report API in the test's own process (FastAPI's TestClient): no broker, no worker; the
tests of one domain's routes run in milliseconds against a real database and chDB."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from api.app import create_app
from api.context import ApiContext
from core.clickhouse import ClickHouse
from core.controlplane import make_engine, migrate
from core.settings import Settings
from tests.support.fcm import stub_pusher

MASTER_KEY = bytes(range(32))


def api_client(
    database_url: str, store: ClickHouse, tmp_path: Path, allow_private: bool, **settings: Any
) -> tuple[TestClient, ApiContext]:
    """A client of the report API on a migrated database; `settings` beside the test ones."""
    engine = make_engine(database_url)
    migrate(engine)
    configured = Settings(
        environment="test",
        data_dir=tmp_path,
        signup_burst=1000,
        hooks_allow_private=allow_private,
        **settings,
    )
    context = ApiContext(configured, engine, store, MASTER_KEY, stub_pusher())
    return TestClient(create_app(context)), context
