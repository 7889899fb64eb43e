"""Delivering REST hooks (API.md "Zapier, webhooks and polling triggers"): which deliveries are
due, taking one (a lease in the database), sending it signed, and what its outcome schedules.

Every step reads and writes the control plane, so a restart of any process loses nothing: a
delivery taken by a worker that died is due again when its lease ends. Time comes from the
caller (`now`), so tests drive the retry schedule with their own clock."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core.controlplane import (
    hook_attempts,
    hook_deliveries,
    hook_event_numbers,
    hook_events,
    hooks,
)
from core.number_crypto import CompanyKeys, decrypt_number
from schemas.events import IntegrationEvent

log = logging.getLogger(__name__)

# After the first attempt: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h (API.md).
RETRY_SCHEDULE_S = (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
MAX_ATTEMPTS = len(RETRY_SCHEDULE_S) + 1
JITTER = 0.1  # each wait is drawn within +-10% of the schedule, so retries do not arrive at once
MAX_RETRY_AFTER_S = 86400
DISABLE_AFTER = timedelta(days=5)  # a hook whose every attempt failed this long is disabled


def retry_delay(
    attempts: int, retry_after_s: float | None, rand: random.Random, scale: float = 1.0
) -> float | None:
    """Seconds from the failed attempt number `attempts` to the next one; None: give up.
    A receiver's `Retry-After` (429/503) replaces the schedule's wait, within a day."""
    if attempts >= MAX_ATTEMPTS:
        return None
    if retry_after_s is not None:
        return min(max(retry_after_s, 1.0), MAX_RETRY_AFTER_S)
    return RETRY_SCHEDULE_S[attempts - 1] * scale * rand.uniform(1 - JITTER, 1 + JITTER)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """`Retry-After` as seconds (delay-seconds or an HTTP date); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - now).total_seconds(), 0.0)


def render(event: IntegrationEvent, numbers: str, keys: CompanyKeys) -> bytes:
    """The body API.md sends: `{type, timestamp, data}`, numbers in E.164 for `e164` hooks."""
    data = dict(event.data)
    if numbers == "e164":
        data.update({name: decrypt_number(keys, sealed) for name, sealed in event.sealed.items()})
    body = {"type": event.type, "timestamp": event.occurred_at.isoformat(), "data": data}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True, slots=True)
class Due:
    """A delivery taken by this worker until its lease ends."""

    hook_id: str
    event_id: str
    company_id: str
    attempts: int  # made before this one
    target_url: str
    numbers: str
    secret_enc: str
    event: IntegrationEvent

    @classmethod
    def of(cls, hook_id: str, hook: Any, event: IntegrationEvent, attempts: int) -> Due:
        """`event` to the hook whose columns `hook` holds (target, numbers, secret)."""
        return cls(
            hook_id=hook_id,
            event_id=event.id,
            company_id=event.company_id,
            attempts=attempts,
            target_url=hook.target_url,
            numbers=hook.numbers,
            secret_enc=hook.secret_enc,
            event=event,
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    status_code: int | None  # None: no answer (refused target, connection error, timeout)
    duration_ms: int
    error: str | None = None
    retry_after_s: float | None = None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def kind(self) -> str:
        """delivered (2xx), refused (any other answer) or unreachable (no answer)."""
        if self.status_code is None:
            return "unreachable"
        return "delivered" if self.delivered else "refused"


def due_query(now: datetime, per_hook: int, limit: int) -> sa.Select[Any]:
    """Due deliveries, the oldest first, at most `per_hook` of any hook: a hook with a backlog
    (a slow or dead receiver) never keeps the others' deliveries from being taken."""
    ranked = (
        sa.select(
            hook_deliveries,
            sa.func.row_number()
            .over(
                partition_by=hook_deliveries.c.hook_id, order_by=hook_deliveries.c.next_attempt_at
            )
            .label("rank"),
        )
        .where(hook_deliveries.c.state == "pending", hook_deliveries.c.next_attempt_at <= now)
        .subquery()
    )
    return (
        sa.select(
            ranked.c.hook_id,
            ranked.c.event_id,
            ranked.c.company_id,
            ranked.c.attempts,
            hooks.c.target_url,
            hooks.c.numbers,
            hooks.c.secret_enc,
            hook_events.c.body,
        )
        .select_from(
            ranked.join(hooks, hooks.c.id == ranked.c.hook_id).join(
                hook_events,
                sa.and_(
                    hook_events.c.company_id == ranked.c.company_id,
                    hook_events.c.id == ranked.c.event_id,
                ),
            )
        )
        .where(ranked.c.rank <= per_hook, hooks.c.disabled_at.is_(None))
        .order_by(ranked.c.next_attempt_at)
        .limit(limit)
    )


def take_due(
    conn: Connection,
    now: datetime,
    lease_s: float,
    limit: int,
    in_flight: Mapping[str, int],
    per_hook: int,
) -> list[Due]:
    """Up to `limit` due deliveries, at most `per_hook` in flight for any hook (counting
    `in_flight`), each leased to the caller: its `next_attempt_at` moves `lease_s` ahead in one
    update that returns what it took (a row another worker took in between is not due)."""
    counts = dict(in_flight)
    chosen = []
    for row in conn.execute(due_query(now, per_hook, limit)):
        if counts.get(row.hook_id, 0) < per_hook:
            counts[row.hook_id] = counts.get(row.hook_id, 0) + 1
            chosen.append(row)
    if not chosen:
        return []
    keys = sa.tuple_(hook_deliveries.c.hook_id, hook_deliveries.c.event_id)
    claimed = {
        (row.hook_id, row.event_id)
        for row in conn.execute(
            hook_deliveries.update()
            .where(
                keys.in_([(row.hook_id, row.event_id) for row in chosen]),
                hook_deliveries.c.state == "pending",
                hook_deliveries.c.next_attempt_at <= now,
            )
            .values(next_attempt_at=now + timedelta(seconds=lease_s))
            .returning(hook_deliveries.c.hook_id, hook_deliveries.c.event_id)
        )
    }
    return [
        Due.of(row.hook_id, row, IntegrationEvent.model_validate_json(row.body), row.attempts)
        for row in chosen
        if (row.hook_id, row.event_id) in claimed
    ]


def record_outcomes(
    conn: Connection,
    results: list[tuple[Due, Outcome]],
    now: datetime,
    rand: random.Random,
    retry_scale: float = 1.0,
) -> None:
    """`record_outcome` for many at once: the delivered ones (most of them) in three statements
    whatever their number, the others one by one."""
    delivered = [(due, outcome) for due, outcome in results if outcome.delivered]
    for due, outcome in results:
        if not outcome.delivered:
            record_outcome(conn, due, outcome, now, rand, retry_scale)
    if not delivered:
        return
    conn.execute(
        hooks.update()
        .where(
            hooks.c.id.in_({due.hook_id for due, _ in delivered}),
            hooks.c.failing_since.is_not(None),
        )
        .values(failing_since=None)
    )
    conn.execute(
        hook_deliveries.update()
        .where(
            hook_deliveries.c.hook_id == sa.bindparam("b_hook"),
            hook_deliveries.c.event_id == sa.bindparam("b_event"),
        )
        .values(state="delivered", attempts=sa.bindparam("b_attempt"), next_attempt_at=None),
        [
            {"b_hook": due.hook_id, "b_event": due.event_id, "b_attempt": due.attempts + 1}
            for due, _ in delivered
        ],
    )
    # a hook deleted while its attempts were in flight took its deliveries with it
    still_there = set(
        conn.execute(
            sa.select(hooks.c.id).where(hooks.c.id.in_({due.hook_id for due, _ in delivered}))
        ).scalars()
    )
    rows = [
        {
            "hook_id": due.hook_id,
            "event_id": due.event_id,
            "attempt": due.attempts + 1,
            "at": now,
            "status_code": outcome.status_code,
            "duration_ms": outcome.duration_ms,
            "error": None,
            "next_attempt_at": None,
        }
        for due, outcome in delivered
        if due.hook_id in still_there
    ]
    if rows:
        conn.execute(hook_attempts.insert(), rows)


def record_outcome(
    conn: Connection,
    due: Due,
    outcome: Outcome,
    now: datetime,
    rand: random.Random,
    retry_scale: float = 1.0,
) -> str:
    """A failed attempt (delivered ones: `record_outcomes`): append it and schedule what
    follows; returns the delivery's new state: `pending` (retried at its next time), `failed`
    (schedule exhausted) or `gone` (410: the hook is deleted). Five days of failures disable
    the hook."""
    assert not outcome.delivered
    attempt = due.attempts + 1
    if outcome.status_code == 410:
        conn.execute(hooks.delete().where(hooks.c.id == due.hook_id))
        log.info("hook %s answered 410: deleted", due.hook_id)
        return "gone"
    delay = retry_delay(attempt, outcome.retry_after_s, rand, retry_scale)
    state = "failed" if delay is None else "pending"
    next_at = None if delay is None else now + timedelta(seconds=delay)
    fail_hook(conn, due.hook_id, now)
    updated = conn.execute(
        hook_deliveries.update()
        .where(
            hook_deliveries.c.hook_id == due.hook_id,
            hook_deliveries.c.event_id == due.event_id,
        )
        .values(state=state, attempts=attempt, next_attempt_at=next_at)
    ).rowcount
    if updated:  # the hook may have been deleted while the attempt was in flight
        conn.execute(
            hook_attempts.insert().values(
                hook_id=due.hook_id,
                event_id=due.event_id,
                attempt=attempt,
                at=now,
                status_code=outcome.status_code,
                duration_ms=outcome.duration_ms,
                error=None if outcome.error is None else outcome.error[:200],
                next_attempt_at=next_at,
            )
        )
    return state


def fail_hook(conn: Connection, hook_id: str, now: datetime) -> None:
    """A failed attempt: the hook fails since now unless it already did; after
    `DISABLE_AFTER` of nothing but failures it is disabled."""
    conn.execute(
        hooks.update()
        .where(hooks.c.id == hook_id, hooks.c.failing_since.is_(None))
        .values(failing_since=now)
    )
    conn.execute(
        hooks.update()
        .where(
            hooks.c.id == hook_id,
            hooks.c.disabled_at.is_(None),
            hooks.c.failing_since <= now - DISABLE_AFTER,
        )
        .values(disabled_at=now)
    )


def redeliver(conn: Connection, hook_id: str, event_id: str, now: datetime) -> bool:
    """Send a delivery again now (attempts go on counting); a disabled hook is enabled again,
    since someone asked for it. False if the hook has no such delivery."""
    updated = conn.execute(
        hook_deliveries.update()
        .where(hook_deliveries.c.hook_id == hook_id, hook_deliveries.c.event_id == event_id)
        .values(state="pending", next_attempt_at=now)
    ).rowcount
    if updated:
        conn.execute(
            hooks.update().where(hooks.c.id == hook_id).values(disabled_at=None, failing_since=None)
        )
    return bool(updated)


def drop_events(conn: Connection, company_id: str, event_ids: sa.Select[Any]) -> None:
    """Events of the company (a select of their ids) out of the delivery log, with their
    deliveries, attempts and numbers: an erasure's, or those older than the retention."""
    ids = list(conn.execute(event_ids).scalars())
    company_hooks = sa.select(hooks.c.id).where(hooks.c.company_id == company_id)
    for start in range(0, len(ids), 1_000):  # inside SQLite's parameter limit
        part = ids[start : start + 1_000]
        conn.execute(
            hook_attempts.delete().where(
                hook_attempts.c.hook_id.in_(company_hooks), hook_attempts.c.event_id.in_(part)
            )
        )
        for table, column in (
            (hook_deliveries, hook_deliveries.c.event_id),
            (hook_event_numbers, hook_event_numbers.c.event_id),
            (hook_events, hook_events.c.id),
        ):
            conn.execute(table.delete().where(table.c.company_id == company_id, column.in_(part)))
