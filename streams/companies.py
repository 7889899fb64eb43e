"""Company facts the worker needs (country, unwrapped number keys), read once from the control plane."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from core.controlplane import Company, load_company
from core.erasures import Dropped, dropped
from core.number_crypto import CompanyKeys, MasterKey, unwrap_company_keys
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

    def __init__(self, engine: Engine, master_key: MasterKey) -> None:
        self._engine = engine
        self._master_key = master_key
        self._known: dict[str, CompanyCrypto] = {}

    def _company(self, company_id: str) -> Company:
        with self._engine.connect() as conn:
            company = load_company(conn, company_id)
        if company is None:
            raise UnprocessableRecord(f"unknown company {company_id}")
        return company

    def keys(self, company_id: str) -> CompanyKeys:
        """The company's number keys, unwrapped now (not cached)."""
        company = self._company(company_id)
        return unwrap_company_keys(self._master_key, company.id, company.wrapped_data_key)

    def _load(self, company_id: str) -> CompanyCrypto:
        company = self._company(company_id)
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


class DroppedDirectory:
    """What each company's new rows must not hold (core/erasures.py `Dropped`), read again after
    `ttl_s`: an erasure job waits longer than that before it deletes, so no row the worker
    stores after the deletion slips past a suppression."""

    def __init__(self, engine: Engine, ttl_s: float) -> None:
        self._engine = engine
        self._ttl_s = ttl_s
        self._known: dict[str, tuple[Dropped, float]] = {}

    def _load(self, company_id: str) -> Dropped:
        with self._engine.connect() as conn:
            return dropped(conn, [company_id])[company_id]

    async def get(self, company_id: str) -> Dropped:
        hit = self._known.get(company_id)
        if hit is not None and hit[1] > time.monotonic():
            return hit[0]
        found = await asyncio.get_running_loop().run_in_executor(None, self._load, company_id)
        self._known[company_id] = (found, time.monotonic() + self._ttl_s)
        return found


def kept(
    rows: list[tuple[Any, ...]], drop: Dropped, key_at: int | None = None
) -> list[tuple[Any, ...]]:
    """The rows (company_id, device_id, ...) of neither a withdrawn device nor, with `key_at`
    (the blind index's position), a suppressed number."""
    if not drop.numbers and not drop.devices:
        return rows
    return [
        row
        for row in rows
        if row[1] not in drop.devices and (key_at is None or row[key_at] not in drop.numbers)
    ]
