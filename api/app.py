"""The report API application: its routers (one module per domain), the error shape and the
HTTP policy."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from api import (
    accounts,
    auth,
    calls,
    console,
    devices,
    employees,
    health,
    hooks,
    leads,
    privacy,
    reports,
    triggers,
    users,
)
from api.context import ApiContext
from api.policy import check_policy
from core.errors import install_error_handlers
from core.http_policy import DOCS_ASSETS, OFFLINE_SWAGGER_UI, install_http_policy
from core.metrics import RequestMetrics
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
    settings = context.settings
    app.state.signup_limiter = RateLimiter(1 / settings.signup_interval_s, settings.signup_burst)
    app.state.reset_limiters = (
        RateLimiter(1 / settings.reset_address_interval_s, settings.reset_address_burst),
        RateLimiter(1 / settings.reset_client_interval_s, settings.reset_client_burst),
    )
    install_error_handlers(app)
    install_http_policy(app, settings.cors_origins)
    app.add_middleware(RequestMetrics, service="api")
    for module in (
        accounts,
        auth,
        users,
        employees,
        reports,
        calls,
        devices,
        leads,
        triggers,
        hooks,
        privacy,
        health,
        console,
    ):
        app.include_router(module.router)
    check_policy(app)  # a route without a declared role cannot be served

    return app
