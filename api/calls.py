"""Call history: newest first, cursor-paginated, numbers masked."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from sqlalchemy.engine import Connection

from api.call_filters import CallFilter, known_employees, parse_types, report_range, report_zone
from api.cursors import decode_cursor, encode_cursor
from api.deps import Context, CurrentTenant, Db, utc_now
from api.tenancy import CompanyClickHouse
from core.controlplane import devices
from core.errors import ApiError
from core.number_crypto import blind_index, unwrap_company_keys
from core.phone_numbers import normalise_number

router = APIRouter(prefix="/v1/calls", tags=["calls"])

# The newer of the call's own note and a note sent later (PUT /v1/calls/{id}/note) wins.
HISTORY_SQL = """SELECT call_id, employee_id, device_id, number_masked, name, type,
    toUnixTimestamp(started_at) AS started_ts, duration_s, sim_slot,
    if(note_version > version, latest_note, note) AS note_text,
    toUnixTimestamp(synced_at) AS synced_ts
FROM calls FINAL
ANY LEFT JOIN (
    SELECT device_id, client_call_id, note AS latest_note, version AS note_version
    FROM call_notes FINAL WHERE company_id = %(company_id)s
) AS latest_notes USING (device_id, client_call_id)
{where}
ORDER BY started_at DESC, call_id DESC
LIMIT %(limit)s"""
# A page looks back 7, then 35, then 180 days before `newest_ts` (the cursor, else the end of the
# range, else now) and only then at the whole range: the newest calls of a busy company are in
# its last days, and reading all of its history for them took 200 ms on 5M calls, a week 30 ms.
LOOKBACK_DAYS = (7, 35, 180)
AFTER_CURSOR = (
    "(started_at < toDateTime(%(cursor_ts)s)"
    " OR (started_at = toDateTime(%(cursor_ts)s) AND call_id < %(cursor_id)s))"
)


def history_rows(
    ch: CompanyClickHouse, call_filter: CallFilter, wanted: int
) -> list[dict[str, Any]]:
    """The first `wanted` rows of the history under `call_filter`."""
    where, params = call_filter.where()
    return ch.query(HISTORY_SQL.format(where=where), {**params, "limit": wanted})


def newest_calls(
    ch: CompanyClickHouse, call_filter: CallFilter, wanted: int, newest_ts: int
) -> list[dict[str, Any]]:
    """`history_rows`, read window by window. A window that holds `wanted` rows holds exactly
    the newest ones: every newer call is in it."""
    oldest_ts = call_filter.range.start_ts if call_filter.range is not None else None
    for days in LOOKBACK_DAYS:
        since_ts = newest_ts - days * 86400
        if oldest_ts is not None and since_ts <= oldest_ts:
            break  # the window would be the whole range
        window = replace(
            call_filter,
            extra=(*call_filter.extra, "started_at >= toDateTime(%(since_ts)s)"),
            extra_params=(*call_filter.extra_params, ("since_ts", since_ts)),
        )
        rows = history_rows(ch, window, wanted)
        if len(rows) >= wanted:
            return rows
    return history_rows(ch, call_filter, wanted)


class CallItem(BaseModel):
    id: str
    employee_id: str
    device_id: str
    number: str | None
    name: str | None
    type: str
    started_at: datetime
    duration_s: int
    sim_slot: int | None = None
    sim: dict[str, Any] | None = None  # the device's SIM in that slot: slot, sim_id, carrier
    note: str | None
    lead_id: str | None = None
    synced_at: datetime


class CallPage(BaseModel):
    items: list[CallItem]
    next_cursor: str | None


def to_item(
    row: dict[str, Any], sims: dict[tuple[str, int], dict[str, Any]], zone: ZoneInfo
) -> CallItem:
    return CallItem(
        id=row["call_id"],
        employee_id=row["employee_id"],
        device_id=row["device_id"],
        number=row["number_masked"] or None,
        name=row["name"] or None,
        type=row["type"],
        started_at=datetime.fromtimestamp(row["started_ts"], zone),
        duration_s=row["duration_s"],
        sim_slot=row["sim_slot"] if row["sim_slot"] >= 0 else None,
        sim=sims.get((row["device_id"], row["sim_slot"])),
        note=row["note_text"] or None,
        synced_at=datetime.fromtimestamp(row["synced_ts"], zone),
    )


def device_sims(db: Connection, company_id: str) -> dict[tuple[str, int], dict[str, Any]]:
    """(device, slot) -> SIM, as the device last reported them (dual-SIM attribution)."""
    rows = db.execute(
        sa.select(devices.c.id, devices.c.sims).where(devices.c.company_id == company_id)
    )
    return {(row.id, sim["slot"]): sim for row in rows for sim in json.loads(row.sims)}


@router.get("", response_model=CallPage)
async def list_calls(
    tenant: CurrentTenant,
    context: Context,
    db: Db,
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: Annotated[str | None, Query()] = None,
    tz: Annotated[str | None, Query()] = None,
    employee_id: Annotated[list[str] | None, Query()] = None,
    type: Annotated[list[str] | None, Query()] = None,
    number: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query()] = None,
) -> CallPage:
    zone = report_zone(tenant, tz)  # of the times answered, with or without a range
    extra: list[str] = []
    params: dict[str, Any] = {}
    if number is not None:
        normalised = normalise_number(number, tenant.company.country)
        if normalised is None:
            raise ApiError(422, "invalid_request", "not a phone number", [("number", "invalid")])
        keys = unwrap_company_keys(
            context.master_key, tenant.company.id, tenant.company.wrapped_data_key
        )
        extra.append("client_key = %(client_key)s")
        params["client_key"] = blind_index(keys, normalised)
    if cursor is not None:
        params["cursor_ts"], params["cursor_id"] = decode_cursor(cursor)
        extra.append(AFTER_CURSOR)
    call_filter = CallFilter(
        range=report_range(tenant, from_, to, tz) if (from_ or to) else None,
        employee_ids=known_employees(db, tenant.company.id, employee_id),
        types=parse_types(type or []),
        extra=tuple(extra),
        extra_params=tuple(params.items()),
    )
    default_newest = call_filter.range.end_ts if call_filter.range else utc_now().timestamp()
    newest_ts = int(params.get("cursor_ts", default_newest))
    rows = await run_in_threadpool(
        newest_calls, tenant.clickhouse, call_filter, limit + 1, newest_ts
    )
    sims = device_sims(db, tenant.company.id)
    page = [to_item(row, sims, zone) for row in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(last["started_ts"], last["call_id"])
    return CallPage(items=page, next_cursor=next_cursor)
