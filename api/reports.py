"""Manager reports over deduplicated calls, exactly as METRICS.md defines them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from api.call_filters import CallFilter, Range, ReportFilter
from api.deps import CurrentTenant
from api.tenancy import CompanyClickHouse
from schemas.payloads import CallType

router = APIRouter(prefix="/v1/reports", tags=["reports"])

CONNECTED = "type IN ('incoming', 'outgoing') AND duration_s > 0"

BASIC_COUNTS_SQL = ",\n".join(
    [
        "count() AS total_calls",
        *(f"countIf(type = '{t.value}') AS {t.value}" for t in CallType),
        f"countIf({CONNECTED}) AS connected",
        "countIf(type = 'outgoing' AND duration_s = 0) AS unanswered_outgoing",
        f"sumIf(duration_s, {CONNECTED}) AS talk_time_s",
        "uniqExactIf(client_key, client_key != '') AS unique_clients",
    ]
)


def with_average(counts: dict[str, Any]) -> dict[str, Any]:
    connected = counts["connected"]
    avg = round(counts["talk_time_s"] / connected, 2) if connected else 0
    return {**{k: int(v) for k, v in counts.items()}, "avg_talk_s": avg}


def basic_counts(clickhouse: CompanyClickHouse, call_filter: CallFilter) -> dict[str, Any]:
    where, params = call_filter.where()
    rows = clickhouse.query(f"SELECT {BASIC_COUNTS_SQL} FROM calls FINAL {where}", params)
    return with_average(rows[0])


@router.get("/summary")
async def summary(tenant: CurrentTenant, rng: Range, call_filter: ReportFilter) -> dict[str, Any]:
    counts = await run_in_threadpool(basic_counts, tenant.clickhouse, call_filter)
    return {"range": rng.as_json(), **counts}
