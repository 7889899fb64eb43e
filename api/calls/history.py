"""Call history: newest first, cursor-paginated, numbers masked; the logic behind
api/calls/routes.py."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field
from sqlalchemy.engine import Connection

from core.calls.items import CallItem, call_labels, to_item
from core.calls.phone_numbers import normalise_number
from core.company_clickhouse import CompanyClickHouse
from core.controlplane import Company
from core.errors import Invalid
from core.leads.lookup import leads_of_clients
from core.number_crypto import CompanyKeys, blind_index
from core.paging import Page, cut, next_cursor
from core.reports.filters import CallFilter

# The newer of the call's own note and a note sent later (PUT /v1/calls/{id}/note) wins.
HISTORY_SQL = """SELECT call_id, employee_id, device_id, client_key, number_masked, number_enc, name, type,
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


class CallPage(BaseModel):
    items: list[CallItem]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null: last")


def normalised_number(number: str, company: Company) -> str:
    """A `number` parameter written in any format, as stored (E.164; 422 if no number)."""
    normalised = normalise_number(number, company.country)
    if normalised is None:
        raise Invalid("invalid_request", "not a phone number", [("number", "invalid")])
    return normalised


def number_key(number: str, company: Company, keys: CompanyKeys) -> str:
    """The blind index of a `number` query parameter written in any format (422 if none)."""
    return blind_index(keys, normalised_number(number, company))


def number_filter(number: str, company: Company, keys: CompanyKeys) -> tuple[str, str]:
    """The condition and blind index that find a number written in any format."""
    return "client_key = %(client_key)s", number_key(number, company, keys)


def after_cursor(page: Page) -> tuple[tuple[str, ...], tuple[tuple[str, Any], ...]]:
    """The history's condition for "after the cursor", and its parameters."""
    if page.after is None:
        return (), ()
    cursor_ts, cursor_id = page.after
    return (AFTER_CURSOR,), (("cursor_ts", cursor_ts), ("cursor_id", cursor_id))


def call_page(
    ch: CompanyClickHouse,
    db: Connection,
    company_id: str,
    call_filter: CallFilter,
    page: Page,
    zone: ZoneInfo,
    now_ts: int,
    reveal: CompanyKeys | None = None,
    with_leads: bool = False,
) -> CallPage:
    if page.after is not None:
        newest_ts = page.after[0]
    else:
        newest_ts = call_filter.range.end_ts if call_filter.range else now_ts
    rows = newest_calls(ch, call_filter, page.limit + 1, newest_ts)
    shown, after = cut(rows, page, lambda row: (int(row["started_ts"]), str(row["call_id"])))
    labels = call_labels(db, company_id)
    items = [to_item(row, labels, zone, reveal) for row in shown]
    if with_leads:
        items = link_leads(ch, items, [row["client_key"] for row in shown])
    return CallPage(items=items, next_cursor=next_cursor(after))


def link_leads(
    ch: CompanyClickHouse, items: list[CallItem], client_keys: list[str]
) -> list[CallItem]:
    """Items with the lead holding each one's number, whether the call or the lead came first."""
    holders = leads_of_clients(ch, client_keys)
    return [
        item.model_copy(update={"lead_id": holders.get(key)})
        for item, key in zip(items, client_keys, strict=True)
    ]
