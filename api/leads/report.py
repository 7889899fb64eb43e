"""The leads report (API.md `GET /v1/reports/leads`): per employee, the leads assigned to them
now, their status as of the end of the range and their calls in range. The calls are read once,
grouped by client, for the clients that are lead numbers (`lead_clients`, migration 0007)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from api.leads.calls import LeadStatus
from core.company_clickhouse import COMPANY_FILTER, NOT_ERASED, CompanyClickHouse
from core.reports.filters import CallFilter
from core.reports.queries.sql import CONNECTED

LEAD_CALLS_SQL = f"""SELECT replaceAll(toString(client), '-', '') AS client_hex,
    count() AS calls_before_end,
    sum({CONNECTED}) AS connected_before_end,
    sum(started_at >= toDateTime(%(start_ts)s) AND {{types}}) AS calls,
    sum(started_at >= toDateTime(%(start_ts)s) AND {{types}} AND {CONNECTED}) AS connected_calls,
    sum(if(started_at >= toDateTime(%(start_ts)s) AND {{types}} AND {CONNECTED}, duration_s, 0))
        AS talk_time_s
FROM calls FINAL
WHERE {COMPANY_FILTER} AND {NOT_ERASED} AND started_at < toDateTime(%(end_ts)s)
    AND client IN (SELECT client FROM lead_clients FINAL WHERE {COMPANY_FILTER} AND deleted = 0)
GROUP BY client"""
COUNTED = ("calls", "connected_calls", "talk_time_s")


def lead_client_calls(ch: CompanyClickHouse, f: CallFilter) -> dict[str, dict[str, int]]:
    """client key -> its calls up to the range end and in range (of the selected types)."""
    assert f.range is not None
    params: dict[str, Any] = {"start_ts": f.range.start_ts, "end_ts": f.range.end_ts}
    if f.types:
        params["types"] = f.types
    rows = ch.query(LEAD_CALLS_SQL.format(types=f.type_term()), params)
    return {row.pop("client_hex"): {k: int(v) for k, v in row.items()} for row in rows}


def leads_rows(
    staff: Sequence[Mapping[str, Any]],
    assigned: Mapping[str, Sequence[Sequence[str]]],
    calls: Mapping[str, Mapping[str, int]],
) -> list[dict[str, Any]]:
    """One row per employee of `staff`; `assigned`: employee id -> the number keys of each of
    their leads; `calls`: `lead_client_calls`."""
    items = []
    for employee in staff:
        row: dict[str, Any] = {"employee_id": employee["id"], "name": employee["name"]}
        row.update(dict.fromkeys(("assigned", *(s.value for s in LeadStatus), *COUNTED), 0))
        for number_keys in assigned.get(employee["id"], ()):
            of_lead = [calls[key] for key in number_keys if key in calls]
            before = sum(c["calls_before_end"] for c in of_lead)
            connected = sum(c["connected_before_end"] for c in of_lead)
            status = (
                LeadStatus.connected
                if connected
                else LeadStatus.attempted
                if before
                else LeadStatus.new
            )
            row["assigned"] += 1
            row[status.value] += 1
            for name in COUNTED:
                row[name] += sum(c[name] for c in of_lead)
        items.append(row)
    return items
