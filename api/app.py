"""The report API application: routers, the error shape and health endpoints."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline

from api import accounts, calls, devices, employees, reports
from api.context import ApiContext
from core.errors import install_error_handlers
from core.health import broker_problem, database_problem, readiness
from core.http_policy import DOCS_ASSETS, OFFLINE_SWAGGER_UI, install_http_policy
from core.rate_limit import RateLimiter


def create_app(context: ApiContext) -> FastAPI:
    app = FastAPIOffline(
        static_url=DOCS_ASSETS,
        swagger_ui_parameters=OFFLINE_SWAGGER_UI,
        title="closecall report API",
        version="1.0",
        description="Reports, call history and administration for managers and integrations.",
    )
    app.state.context = context
    app.state.signup_limiter = RateLimiter(
        1 / context.settings.signup_interval_s, context.settings.signup_burst
    )
    install_error_handlers(app)
    install_http_policy(app, context.settings.cors_origins)
    for module in (accounts, employees, reports, calls, devices):
        app.include_router(module.router)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], response_model=None)
    async def readyz() -> dict[str, Any] | JSONResponse:
        return readiness(await run_in_threadpool(dependency_problems, context))

    return app


def dependency_problems(context: ApiContext) -> list[str | None]:
    problems = [database_problem(context.engine), clickhouse_problem(context)]
    if context.worker_bootstrap:
        problems.append(broker_problem(context.worker_bootstrap))
    return problems


def clickhouse_problem(context: ApiContext) -> str | None:
    try:
        context.clickhouse.query("SELECT 1 AS ok")
    except Exception as exc:
        return f"ClickHouse ({context.clickhouse.url}): {exc}"
    return None
