"""Integration events into the delivery log: each event once per company (its id says what it
is about), one delivery per subscribed hook; and the outbox the report API writes events into
within the transaction of what they are about, relayed by the worker."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core.controlplane import (
    hook_deliveries,
    hook_event_numbers,
    hook_events,
    hooks,
    insert_new,
    integration_outbox,
)
from core.hooks.delivery import Due, drop_events
from core.privacy.erasures import blocked_numbers
from schemas.events import IntegrationEvent, IntegrationEvents


def record_events(
    conn: Connection,
    events: Iterable[IntegrationEvent],
    now: datetime,
    lease_s: float | None = None,
) -> list[Due]:
    """The deliveries these events make: for each event not seen before, one per hook of its
    company subscribed to its type (not disabled). An event seen before -- a replay, a
    re-upload -- makes none, and a company without hooks keeps nothing. With `lease_s` the new
    deliveries are leased to the caller, who sends them at once (not due for anyone else
    until the lease ends); without, they are due now."""
    by_company: dict[str, list[IntegrationEvent]] = {}
    for event in events:
        by_company.setdefault(event.company_id, []).append(event)
    due_at = now if lease_s is None else now + timedelta(seconds=lease_s)
    return [
        due
        for company_id, company_events in by_company.items()
        for due in _record_company_events(conn, company_id, company_events, now, due_at)
    ]


def _record_company_events(
    conn: Connection,
    company_id: str,
    events: list[IntegrationEvent],
    now: datetime,
    due_at: datetime,
) -> list[Due]:
    subscribed: dict[str, list[Any]] = {}
    for row in conn.execute(
        sa.select(hooks).where(hooks.c.company_id == company_id, hooks.c.disabled_at.is_(None))
    ):
        subscribed.setdefault(row.event, []).append(row)
    blocked = blocked_numbers(conn, [company_id]).get(company_id, set())
    wanted = list(
        {
            e.id: e for e in events if e.type in subscribed and not blocked.intersection(e.numbers)
        }.values()
    )
    new = _new_events(conn, company_id, wanted, now)
    fresh = [(event, hook) for event in new for hook in subscribed[event.type]]
    inserted = set(
        insert_new(
            conn,
            hook_deliveries,
            [
                {
                    "hook_id": hook.id,
                    "event_id": event.id,
                    "company_id": company_id,
                    "state": "pending",
                    "attempts": 0,
                    "next_attempt_at": due_at,
                    "created_at": now,
                }
                for event, hook in fresh
            ],
        )
    )
    return [
        Due.of(hook.id, hook, event, attempts=0)
        for event, hook in fresh
        if (hook.id, event.id) in inserted
    ]


def _new_events(
    conn: Connection, company_id: str, wanted: list[IntegrationEvent], now: datetime
) -> list[IntegrationEvent]:
    """The events not seen before, now kept (with the numbers each carries)."""
    new_ids = {
        key[1]
        for key in insert_new(
            conn,
            hook_events,
            [
                {
                    "company_id": company_id,
                    "id": event.id,
                    "type": event.type,
                    "body": event.model_dump_json(),
                    "created_at": now,
                }
                for event in wanted
            ],
        )
    }
    new = [event for event in wanted if event.id in new_ids]
    insert_new(
        conn,
        hook_event_numbers,
        [
            {"company_id": company_id, "number_key": key, "event_id": event.id}
            for event in new
            for key in set(event.numbers)
        ],
    )
    return new


def subscribed(conn: Connection, company_ids: Iterable[str]) -> dict[str, set[str]]:
    """company -> the events it has hooks for (not disabled), for these companies: the worker
    builds only events someone will receive (one indexed query per batch, never stale)."""
    wanted = sorted(set(company_ids))
    found: dict[str, set[str]] = {}
    if wanted:
        for row in conn.execute(
            sa.select(hooks.c.company_id, hooks.c.event)
            .where(hooks.c.company_id.in_(wanted), hooks.c.disabled_at.is_(None))
            .distinct()
        ):
            found.setdefault(row.company_id, set()).add(row.event)
    return found


def write_outbox(conn: Connection, events: Iterable[IntegrationEvent], now: datetime) -> None:
    """Events to relay, in the caller's transaction (so they exist exactly if it commits)."""
    insert_new(
        conn,
        integration_outbox,
        [
            {
                "event_id": event.id,
                "company_id": event.company_id,
                "body": event.model_dump_json(),
                "created_at": now,
            }
            for event in {e.id: e for e in events}.values()
        ],
    )


def outbox_batch(conn: Connection, limit: int = 500) -> list[IntegrationEvents]:
    """The oldest events of the outbox, one record per company."""
    rows = conn.execute(
        sa.select(integration_outbox.c.body)
        .order_by(integration_outbox.c.created_at, integration_outbox.c.event_id)
        .limit(limit)
    )
    records: dict[str, IntegrationEvents] = {}
    for row in rows:
        event = IntegrationEvent.model_validate_json(row.body)
        records.setdefault(
            event.company_id, IntegrationEvents(company_id=event.company_id, events=[])
        ).events.append(event)
    return list(records.values())


def relayed(conn: Connection, records: Iterable[IntegrationEvents]) -> None:
    """Forget events Kafka has acknowledged."""
    ids = [event.id for record in records for event in record.events]
    if ids:
        conn.execute(integration_outbox.delete().where(integration_outbox.c.event_id.in_(ids)))


def prune(conn: Connection, company_id: str, before: datetime) -> None:
    """The company's integration events recorded before `before`, with their deliveries and
    attempts (retention: the delivery log keeps no older payloads than the calls)."""
    old = sa.select(hook_events.c.id).where(
        hook_events.c.company_id == company_id, hook_events.c.created_at < before
    )
    drop_events(conn, company_id, old)


def forget_number(conn: Connection, company_id: str, number_key: str) -> None:
    """The integration events carrying this number, with their deliveries (sent or not): what
    an erasure asks of the hooks (core/privacy/erasures.request_erasure)."""
    drop_events(
        conn,
        company_id,
        sa.select(hook_event_numbers.c.event_id).where(
            hook_event_numbers.c.company_id == company_id,
            hook_event_numbers.c.number_key == number_key,
        ),
    )
