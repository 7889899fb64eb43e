"""The ingest benchmark's floor: `POST /v1/calls` served by the same uvicorn and FastAPI
configuration as ingest (error handlers, HTTP policy, request metrics, uvicorn options), reading
the body and answering 202 without authenticating, validating or producing. What ingest adds on
top of it is ours. `python -m bench.floor PORT`."""

from __future__ import annotations

import sys

from fastapi import FastAPI, Request
from fastapi_offline import FastAPIOffline

from core.errors import install_error_handlers
from core.http_policy import install_http_policy
from core.metrics import METRICS_PATH, RequestMetrics, metrics_page
from core.settings import Settings
from deploy.services import serve_http
from schemas.payloads import CallsAccepted


def floor_app() -> FastAPI:
    app = FastAPIOffline(title="ingest floor")
    install_error_handlers(app)
    install_http_policy(app, [])
    app.add_middleware(RequestMetrics, service="ingest")

    @app.post("/v1/calls", status_code=202, response_model=CallsAccepted)
    async def upload_calls(request: Request) -> CallsAccepted:
        await request.body()
        return CallsAccepted(accepted=0, rejected=[])

    app.add_api_route(METRICS_PATH, metrics_page, methods=["GET"])
    return app


if __name__ == "__main__":
    settings = Settings(ingest_port=int(sys.argv[1]), log_level="warn")
    serve_http(floor_app(), settings.ingest_host, settings.ingest_port, settings)
