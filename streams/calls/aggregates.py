"""The per-employee aggregates of the calls ClickHouse has just stored (the calls worker's first
after-store step, core/calls/aggregates.py): the quarters and the company's local days each
batch touched, recomputed from `calls FINAL` before the batch's offsets are committed. A failure
retries the whole after-store step (streams/sink.py), reading the company's zone again;
recomputing is idempotent, so a repeat writes the same rows.

Beside it, the day-rollup round (`build_days`): the days of a company whose zone changed (or
whose days never existed: the calls stored before migration 0009) written in its zone, then
recorded complete in the control plane, which is when the reports start reading them; and the
client-state round (`build_client_states`): the per-client states of a company whose states
are unusable (calls stored before migration 0010, a withdrawn device's calls deleted) rebuilt,
then recorded usable; and the day-figure round (`build_day_clients`): the unique clients of the
local days and hours whose figure is missing or stale counted again (core/calls/day_clients.py)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.calls import client_states, day_clients
from core.calls.aggregates import Excluded, Touched, keep, rebuild_days, touched
from core.clickhouse import ClickHouse, quote
from core.controlplane import companies
from core.metrics import CLICKHOUSE_INSERT_LATENCY, CLICKHOUSE_ROWS
from core.privacy import mutations
from core.privacy.erasures import dropped, hidden
from streams.calls.rows import CALL_COLUMNS
from streams.tables import AfterStore, Lookups, Stored

log = logging.getLogger(__name__)
# a changed zone waits this long before its days are rebuilt: by then every worker's company
# facts (refreshed each second) write days in the new zone
ZONE_SETTLE = timedelta(seconds=5)
# client states wait this long after they became unusable: by then no worker's recompute that
# read the deleted calls is still to be written
STATES_SETTLE = timedelta(seconds=5)

# the tables written in the company's zone: rebuilt in a new one, the old one's rows deleted
ZONED_TABLES = ("call_days", "call_hours", "company_hours", "client_hours", "hour_clients")


@dataclass(frozen=True, slots=True)
class AggregateKeeper:
    clickhouse: ClickHouse
    lookups: Lookups

    async def __call__(self, stored: Stored) -> None:
        rows = [row for _event, batch in stored for row in batch]
        for changed in touched(rows, CALL_COLUMNS):
            zone = (await self.lookups.company(changed.company_id)).timezone
            # what erasures drop counts nowhere, although its calls are still in `calls`
            dropped = await self.lookups.dropped(changed.company_id)
            excluded = Excluded(dropped.numbers, dropped.devices)
            await asyncio.get_running_loop().run_in_executor(
                None, self._keep, changed, zone, excluded
            )

    def _keep(self, changed: Touched, zone: str, excluded: Excluded) -> None:
        started = time.perf_counter()
        written = keep(self.clickhouse, changed, zone, excluded)
        CLICKHOUSE_INSERT_LATENCY.labels("call_aggregates").observe(time.perf_counter() - started)
        CLICKHOUSE_ROWS.labels("call_aggregates").inc(written)


def in_order(*steps: AfterStore) -> AfterStore:
    """One after-store step running `steps` one after the other."""

    async def run(stored: Stored) -> None:
        for step in steps:
            await step(stored)

    return run


def build_days(
    engine: Engine,
    clickhouse: ClickHouse,
    now: Callable[[], datetime],
    timeout_s: float = 600.0,
) -> list[str]:
    """Each company whose days are not complete in its zone (settled `ZONE_SETTLE`): every
    day rebuilt in that zone, the rows of other zones deleted, then the zone recorded, unless
    it changed meanwhile. A crash re-runs it whole (each step is idempotent). The companies
    built."""
    with engine.connect() as conn:
        due = conn.execute(
            sa.select(companies.c.id, companies.c.timezone).where(
                sa.or_(
                    companies.c.rollup_zone.is_(None),
                    companies.c.rollup_zone != companies.c.timezone,
                ),
                sa.or_(
                    companies.c.timezone_set_at.is_(None),
                    companies.c.timezone_set_at <= now() - ZONE_SETTLE,
                ),
            )
        ).all()
        excluded = dropped(conn, [company_id for company_id, _zone in due])
    for company_id, zone in due:
        started = time.perf_counter()
        written = rebuild_days(
            clickhouse,
            company_id,
            zone,
            Excluded(excluded[company_id].numbers, excluded[company_id].devices),
            partial(_progress, company_id),
        )
        other_zones = f"company_id = {quote(company_id)} AND zone != {quote(zone)}"
        for table in ZONED_TABLES:
            mutations.delete_any(clickhouse, table, other_zones, timeout_s)
        with engine.begin() as conn:
            conn.execute(
                companies.update()
                .where(companies.c.id == company_id, companies.c.timezone == zone)
                .values(rollup_zone=zone)
            )
        log.info(
            "days of company %s complete in %s: %d rows in %.1f s",
            company_id,
            zone,
            written,
            time.perf_counter() - started,
        )
    return [company_id for company_id, _zone in due]


def build_client_states(
    engine: Engine,
    clickhouse: ClickHouse,
    now: Callable[[], datetime],
    timeout_s: float = 600.0,
) -> list[str]:
    """Each company whose client states are unusable (settled `STATES_SETTLE`) and that has no
    erasure of a device pending (its calls are still to go): its rows deleted, every state
    rebuilt from its calls, then recorded usable for any range, unless they became unusable
    again meanwhile (a retention run, another withdrawn device). A crash re-runs it whole. The
    companies rebuilt."""
    with engine.connect() as conn:
        unusable = conn.execute(
            sa.select(
                companies.c.id, companies.c.client_states_stale_at, companies.c.timezone
            ).where(
                companies.c.client_states_from.is_(None),
                sa.or_(
                    companies.c.client_states_stale_at.is_(None),
                    companies.c.client_states_stale_at <= now() - STATES_SETTLE,
                ),
            )
        ).all()
        due = [
            (company_id, at, zone)
            for company_id, at, zone in unusable
            if not hidden(conn, company_id).devices
        ]
    for company_id, stale_at, zone in due:
        started = time.perf_counter()
        of_company = f"company_id = {quote(company_id)}"
        for table in client_states.TABLES:
            mutations.delete_any(clickhouse, table, of_company, timeout_s)
        written = client_states.rebuild(clickhouse, company_id, zone)
        unchanged = (
            companies.c.client_states_stale_at.is_(None)
            if stale_at is None
            else companies.c.client_states_stale_at == stale_at
        )
        with engine.begin() as conn:
            conn.execute(
                companies.update()
                .where(
                    companies.c.id == company_id,
                    companies.c.client_states_from.is_(None),
                    unchanged,
                )
                .values(client_states_from=client_states.EPOCH)
            )
        log.info(
            "client states of company %s rebuilt: %d in %.1f s",
            company_id,
            written,
            time.perf_counter() - started,
        )
    return [company_id for company_id, _stale_at, _zone in due]


def build_day_clients(engine: Engine, clickhouse: ClickHouse) -> bool:
    """The stale unique-clients figures of each company's days and hours in the zone they are
    complete in (a month of each at most per company: `Kind.per_round`; a day of a 2,000-seat
    team takes ~0.1 s), not of a company with an erasure pending
    (its reads count from the calls, and the erasure deletes its figures once its calls are
    gone). Whether stale figures are left for the next round beyond the ones still changing."""
    with engine.connect() as conn:
        complete = conn.execute(
            sa.select(companies.c.id, companies.c.rollup_zone).where(
                companies.c.rollup_zone.is_not(None)
            )
        ).all()
        due = [
            (company_id, zone)
            for company_id, zone in complete
            if not (found := hidden(conn, company_id)).client_keys and not found.devices
        ]
    left = 0
    for (company_id, zone), kind in itertools.product(due, day_clients.KINDS):
        done, stale = day_clients.recompute_stale(
            clickhouse, company_id, zone, kind.per_round, kind
        )
        left += stale
        if stale:
            log.info(
                "unique clients of %d %ss of company %s counted, %d to go",
                done,
                kind.grain.column,
                company_id,
                stale,
            )
    return left > 0


def _progress(company_id: str, done: int, total: int) -> None:
    if done == total or done % 10 == 0:
        log.info("days of company %s: week %d of %d", company_id, done, total)
