"""The report API application: its routers (`api/<domain>/routes.py`), the error shape and the
HTTP policy."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from api import health
from api.accounts import routes as accounts
from api.auth import routes as auth
from api.billing import routes as billing
from api.calls import changes as call_changes
from api.calls import routes as calls
from api.console import routes as console
from api.context import ApiContext
from api.devices import routes as devices
from api.employees import routes as employees
from api.hooks import routes as hooks
from api.leads import changes as lead_changes
from api.leads import followups
from api.leads import routes as leads
from api.notices import routes as notices
from api.policy import check_policy
from api.privacy import routes as privacy
from api.reports import routes as reports
from api.triggers import routes as triggers
from api.users import routes as users
from core.billing.providers import configured
from core.errors import install_error_handlers
from core.health import process_router
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
    app.state.billing = configured(settings)  # the providers whose secrets are set
    install_error_handlers(app)
    install_http_policy(app, settings.cors_origins)
    app.add_middleware(RequestMetrics, service="api")
    for module in (
        accounts,
        billing,
        auth,
        users,
        employees,
        reports,
        calls,
        call_changes,
        devices,
        leads,
        lead_changes,
        followups,
        triggers,
        hooks,
        privacy,
        notices,
        health,
        console,
    ):
        app.include_router(module.router)
    app.include_router(process_router())
    check_policy(app)  # a route without a declared role cannot be served

    return app
