"""The worker's part of follow-ups (core/leads/followups.py): a connected call with a client
completes its open follow-ups (the calls' after-store step, so before the batch's offsets are
committed: a crash completes them on the replay, which finds them done), and a round reminds
the employee's phones of those that fell due (a claim, `followup.due` and the outbox in one
transaction, then the FCM data message)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.calls.items import people_of
from core.clock import utc_now
from core.controlplane import companies
from core.devices.health import push_to_employees
from core.devices.push import SyncPusher
from core.hooks.events import write_outbox
from core.leads.followups import REMINDER_DATA, ConnectedCall, claim_due, close_by_calls, connected
from streams.calls.rows import CALL_COLUMNS
from streams.tables import Lookups, Stored

FIELDS = ("company_id", "call_id", "client_key", "type", "started_at", "duration_s")
AT = tuple(CALL_COLUMNS.index(name) for name in FIELDS)


@dataclass(frozen=True, slots=True)
class FollowupCloser:
    engine: Engine
    lookups: Lookups

    async def __call__(self, stored: Stored) -> None:
        calls = [tuple(row[at] for at in AT) for _event, rows in stored for row in rows]
        loop = asyncio.get_running_loop()
        for company_id, made in connected(calls).items():
            zone = ZoneInfo((await self.lookups.company(company_id)).timezone)
            await loop.run_in_executor(None, self._close, company_id, made, zone)

    def _close(self, company_id: str, calls: list[ConnectedCall], zone: ZoneInfo) -> None:
        now = utc_now()
        with self.engine.begin() as conn:
            people = people_of(conn, company_id)
            write_outbox(conn, close_by_calls(conn, company_id, calls, people, zone, now), now)


def remind_due(engine: Engine, pusher: SyncPusher, now: datetime) -> bool:
    """One round at `now`: the follow-ups due claimed with their events, then each employee's
    phones told. Whether any was due."""
    with engine.begin() as conn:
        zones = dict(conn.execute(sa.select(companies.c.id, companies.c.timezone)).all())
        claimed, events = claim_due(
            conn, now, lambda c: ZoneInfo(zones[c]), lambda c: people_of(conn, c)
        )
        write_outbox(conn, events, now)
    for row in claimed:
        if row.employee_id is not None:
            push_to_employees(engine, pusher, row.company_id, [row.employee_id], REMINDER_DATA, now)
    return bool(claimed)
