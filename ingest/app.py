"""The ingest application: wiring of the device API (ingest/routes.py) and its process state."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi_offline import FastAPIOffline

from core.clock import utc_now
from core.controlplane import make_engine
from core.errors import install_error_handlers
from core.health import process_router
from core.http_policy import DOCS_ASSETS, OFFLINE_SWAGGER_UI, install_http_policy
from core.metrics import RequestMetrics
from core.number_crypto import MasterKey
from core.settings import Settings
from ingest import routes
from ingest.deps import IngestState
from ingest.devices import DeviceAuthenticator

log = logging.getLogger(__name__)
REVOCATION_SWEEP_S = 1.0


async def sweep_revocations(devices: DeviceAuthenticator) -> None:
    """Each second, the tokens revoked anywhere leave the cache (one indexed query, none while
    nothing is cached)."""
    while True:
        await asyncio.sleep(REVOCATION_SWEEP_S)
        try:
            await run_in_threadpool(devices.sweep, utc_now())
        except Exception as exc:  # the database is down: the next sweep covers this one's span
            log.warning("revocation sweep failed: %r", exc)


def create_app(settings: Settings, master_key: MasterKey) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sweeper = asyncio.create_task(sweep_revocations(app.state.ingest.devices))
        yield
        sweeper.cancel()
        app.state.ingest.producer.close()
        app.state.ingest.engine.dispose()

    app = FastAPIOffline(
        static_url=DOCS_ASSETS,
        swagger_ui_parameters=OFFLINE_SWAGGER_UI,
        title="closecall ingest API",
        version="1.0",
        description="The API the phone agent talks to (docs/API.md).",
        lifespan=lifespan,
    )
    app.state.ingest = IngestState(settings, make_engine(settings.database_url), master_key)
    install_error_handlers(app)
    install_http_policy(app, settings.cors_origins)
    app.add_middleware(RequestMetrics, service="ingest")
    app.include_router(routes.router)
    app.include_router(process_router())
    return app
