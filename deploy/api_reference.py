"""The OpenAPI documents of both services, written into docs/openapi/ by `closecall openapi`
(committed, so a clone carries its API reference; a test keeps them current)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from api.app import create_app as create_api_app
from api.context import ApiContext
from core.clickhouse import Param
from core.controlplane import make_engine
from core.devices.push import SyncPusher
from core.settings import Settings
from ingest.app import create_app as create_ingest_app
from schemas.json_documents import write_documents

OPENAPI_DIR = Path(__file__).resolve().parents[1] / "docs" / "openapi"


class RoutesOnly:
    """No ClickHouse at all: a document is built from the routes, nothing is queried (this is
    no stand-in for tests; a call says so instead of answering)."""

    url = "none://"

    def execute(self, sql: str) -> None:
        raise RuntimeError("writing the API reference runs no query")

    def query(self, sql: str, params: Mapping[str, Param] | None = None) -> list[dict[str, Any]]:
        raise RuntimeError("writing the API reference runs no query")

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        raise RuntimeError("writing the API reference runs no query")

    def drop_replaced_parts(self, tables: Collection[str]) -> int:
        raise RuntimeError("writing the API reference runs no query")

    def close(self) -> None:
        pass


def openapi_documents() -> dict[str, dict[str, Any]]:
    settings = Settings(environment="test", database_url="sqlite://")
    engine = make_engine(settings.database_url)
    context = ApiContext(settings, engine, RoutesOnly(), bytes(32), SyncPusher(app=None))
    documents = {
        "ingest": create_ingest_app(settings, bytes(32)).openapi(),
        "report-api": create_api_app(context).openapi(),
    }
    engine.dispose()
    return documents


def write_openapi(directory: Path = OPENAPI_DIR) -> list[Path]:
    return write_documents(directory, openapi_documents(), ".openapi.json")
