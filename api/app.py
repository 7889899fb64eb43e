"""The report API application: routers, the error shape and health endpoints."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api import accounts, calls, employees, reports
from api.context import ApiContext
from schemas.errors import error_body, install_error_handlers


def create_app(context: ApiContext) -> FastAPI:
    app = FastAPI(
        title="closecall report API",
        version="1.0",
        description="Reports, call history and administration for managers and integrations.",
    )
    app.state.context = context
    install_error_handlers(app)
    for module in (accounts, employees, reports, calls):
        app.include_router(module.router)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], response_model=None)
    async def readyz() -> dict[str, Any] | JSONResponse:
        down = await run_in_threadpool(unreachable_dependencies, context)
        if down:
            message = "not ready: " + "; ".join(down)
            return JSONResponse(error_body("not_ready", message), 503)
        return {"status": "ready"}

    return app


def unreachable_dependencies(context: ApiContext) -> list[str]:
    down = []
    try:
        with context.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:
        down.append(f"control-plane database ({context.engine.url.render_as_string()}): {exc}")
    try:
        context.clickhouse.query("SELECT 1 AS ok")
    except Exception as exc:
        down.append(f"ClickHouse ({context.clickhouse.url}): {exc}")
    return down
