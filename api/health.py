"""Health routes of the report API: the process, and what it depends on."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from api.context import ApiContext
from api.deps import Context
from core.errors import error_responses
from core.health import Health, broker_problem, database_problem, readiness
from core.metrics import METRICS_PATH, METRICS_RESPONSE, metrics_page

router = APIRouter(tags=["health"])


@router.get(METRICS_PATH, response_class=Response, responses=METRICS_RESPONSE)
def metrics() -> Response:
    """Prometheus metrics of this process (in local mode the worker's too; deploy/README.md "Metrics")."""
    return metrics_page()


@router.get("/readyz", response_model=Health, responses=error_responses(503))
async def readyz(context: Context) -> Health | JSONResponse:
    """The control plane, ClickHouse and (in local mode) the broker are reachable; 503 names
    what is down, never a credential."""
    return readiness(await run_in_threadpool(dependency_problems, context))


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
