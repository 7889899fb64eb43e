"""`call.created`/`call.missed` of the calls ClickHouse has just stored, onto the integration
topic (the calls worker's after-store step): so each call is in the history before its webhook,
and on the topic before the batch's offsets are committed. Built only for the companies with a
hook for them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from core.calls.items import Labels, call_labels
from core.clickhouse import ClickHouse
from core.company_clickhouse import CompanyClickHouse
from core.hooks.events import subscribed
from core.leads.lookup import leads_of_clients
from streams.calls.events import CALL_EVENTS, call_events
from streams.calls.tables import CALL_KEY_AT
from streams.faust_app import Publisher
from streams.tables import Lookups, Stored


@dataclass(frozen=True, slots=True)
class CallAnnouncer:
    engine: Engine
    clickhouse: ClickHouse
    lookups: Lookups
    publish: Publisher

    async def __call__(self, stored: Stored) -> None:
        loop = asyncio.get_running_loop()
        companies = {rows[0][0] for _event, rows in stored if rows}
        hooked = await loop.run_in_executor(None, self._hooked, companies)
        records = []
        labels: dict[str, Labels] = {}
        for _event, rows in stored:
            if not rows or rows[0][0] not in hooked:
                continue  # no hook would receive these: nothing to build
            company_id = rows[0][0]
            company = await self.lookups.company(company_id)
            if company_id not in labels:
                labels[company_id] = await loop.run_in_executor(None, self._labels, company_id)
            holders: dict[str, str] = {}
            if company.has_leads:
                clients = [row[CALL_KEY_AT] for row in rows]
                holders = await loop.run_in_executor(None, self._holders, company_id, clients)
            records.append(
                call_events(
                    company_id,
                    rows,
                    ZoneInfo(company.timezone),
                    labels[company_id],
                    holders,
                    hooked[company_id],
                )
            )
        await self.publish.records(records)

    def _hooked(self, company_ids: set[str]) -> dict[str, set[str]]:
        with self.engine.connect() as conn:
            found = subscribed(conn, company_ids)
        return {c: events for c, events in found.items() if events & set(CALL_EVENTS)}

    def _holders(self, company_id: str, clients: list[str]) -> dict[str, str]:
        return leads_of_clients(CompanyClickHouse(self.clickhouse, company_id), clients)

    def _labels(self, company_id: str) -> Labels:
        with self.engine.connect() as conn:
            return call_labels(conn, company_id)
