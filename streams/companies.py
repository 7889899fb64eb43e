"""Company facts the worker needs (country, unwrapped number keys), read once from the control plane."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from core.controlplane import load_company
from core.number_crypto import CompanyKeys, unwrap_company_keys
from streams.decoding import UnprocessableRecord


@dataclass(frozen=True, slots=True)
class CompanyCrypto:
    """What the transforms need to know about a company."""

    country: str
    keys: CompanyKeys
    timezone: str = "UTC"  # what times in webhooks' call items are written in
    has_leads: bool = False  # webhooks' call items carry `lead_id`


class CompanyDirectory:
    """Cached per company for the life of the process: countries and data keys do not change."""

    def __init__(self, engine: Engine, master_key: bytes) -> None:
        self._engine = engine
        self._master_key = master_key
        self._known: dict[str, CompanyCrypto] = {}

    def _load(self, company_id: str) -> CompanyCrypto:
        with self._engine.connect() as conn:
            company = load_company(conn, company_id)
        if company is None:
            raise UnprocessableRecord(f"unknown company {company_id}")
        keys = unwrap_company_keys(self._master_key, company.id, company.wrapped_data_key)
        return CompanyCrypto(
            country=company.country,
            keys=keys,
            timezone=company.timezone,
            has_leads=company.has_leads,
        )

    async def get(self, company_id: str) -> CompanyCrypto:
        found = self._known.get(company_id)
        if found is None:
            found = await asyncio.get_running_loop().run_in_executor(None, self._load, company_id)
            self._known[company_id] = found
        return found
