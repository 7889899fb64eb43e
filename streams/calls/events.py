"""The pure transform of stored calls into integration events: `call.created` for every call,
`call.missed` for missed and rejected ones, each with the history item as `data` (number
masked, its ciphertext sealed beside it) and an id from the call, so a replay repeats it."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC
from typing import Any
from zoneinfo import ZoneInfo

from core.calls.items import Labels, to_item
from schemas.events import HookEvent, IntegrationEvent, IntegrationEvents, integration_event_id
from streams.calls.rows import CALL_COLUMNS

MISSED_TYPES = frozenset({"missed", "rejected"})
CALL_EVENTS: tuple[HookEvent, ...] = ("call.created", "call.missed")


def call_events(
    company_id: str,
    rows: list[tuple[Any, ...]],
    zone: ZoneInfo,
    labels: Labels,
    holders: Mapping[str, str],
    wanted: Collection[str],
) -> IntegrationEvents:
    """The events of `wanted` types (those the company has hooks for) of these calls.
    `holders`: client key -> the lead holding that number (the history's `lead_id`)."""
    events: list[IntegrationEvent] = []
    for values in rows:
        row = dict(zip(CALL_COLUMNS, values, strict=True))
        types: tuple[HookEvent, ...] = tuple(
            event_type
            for event_type in CALL_EVENTS
            if event_type in wanted
            and (event_type == "call.created" or row["type"] in MISSED_TYPES)
        )
        if not types:
            continue
        item = to_item(
            {
                **row,
                "started_ts": int(row["started_at"].timestamp()),
                "synced_ts": int(row["synced_at"].timestamp()),
                "note_text": row["note"],
            },
            labels,
            zone,
        )
        data = item.model_copy(update={"lead_id": holders.get(row["client_key"])}).model_dump(
            mode="json"
        )
        sealed = {"number": row["number_enc"]} if row["number_enc"] else {}
        events.extend(
            IntegrationEvent(
                id=integration_event_id(event_type, row["call_id"]),
                type=event_type,
                company_id=company_id,
                occurred_at=row["synced_at"].astimezone(UTC),
                data=data,
                sealed=sealed,
                numbers=[row["client_key"]] if row["client_key"] else [],
            )
            for event_type in types
        )
    return IntegrationEvents(company_id=company_id, events=events)
