"""Companies as the workers read them, shared by the calls worker and the delivery loop: each
company's number keys unwrapped once per process (a data key never changes: a master-key
rotation only wraps it again, core/key_rotation.py), its country, zone and plan read again
once `ttl_s` has passed, so a plan or zone changed by `PATCH /v1/company` reaches every worker
within `ttl_s` without a restart. The report API and ingest read the company with each request
(its status gates the request), so they need no cache."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from cachetools import TTLCache
from sqlalchemy.engine import Engine

from core.controlplane import Company, load_company
from core.number_crypto import CompanyKeys, MasterKey, unwrap_company_keys

FACTS_TTL_S = 1.0
MAX_COMPANIES = 100_000  # facts cached at once; beyond it the least recently read go first


class UnknownCompany(LookupError):
    """No company has this id (any more): its records can never be processed."""


@dataclass(frozen=True, slots=True)
class CompanyFacts:
    """What the workers need to know about a company."""

    country: str
    keys: CompanyKeys
    timezone: str = "UTC"  # what times in webhooks' call items are written in
    has_leads: bool = False  # webhooks' call items carry `lead_id`


class CompanyDirectory:
    def __init__(
        self,
        engine: Engine,
        master_key: MasterKey,
        ttl_s: float = FACTS_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._master_key = master_key
        self._keys: dict[str, CompanyKeys] = {}
        self._facts: TTLCache[str, CompanyFacts] = TTLCache(MAX_COMPANIES, ttl_s, timer=clock)
        self._lock = threading.Lock()  # called from the loops' thread pools

    def _company(self, company_id: str) -> Company:
        with self._engine.connect() as conn:
            company = load_company(conn, company_id)
        if company is None:
            raise UnknownCompany(f"unknown company {company_id}")
        return company

    def _keys_of(self, company: Company) -> CompanyKeys:
        with self._lock:
            found = self._keys.get(company.id)
        if found is None:
            found = unwrap_company_keys(self._master_key, company.id, company.wrapped_data_key)
            with self._lock:
                self._keys[company.id] = found
        return found

    def cached_keys(self, company_id: str) -> CompanyKeys | None:
        """Its keys when this process has unwrapped them before (no I/O: for a loop's thread)."""
        with self._lock:
            return self._keys.get(company_id)

    def keys(self, company_id: str) -> CompanyKeys:
        """The company's number keys (UnknownCompany once it is gone)."""
        with self._lock:
            found = self._keys.get(company_id)
        return found if found is not None else self._keys_of(self._company(company_id))

    def facts(self, company_id: str) -> CompanyFacts:
        """Its facts, at most `ttl_s` old (UnknownCompany when it does not exist)."""
        with self._lock:
            hit = self._facts.get(company_id)
        if hit is not None:
            return hit
        company = self._company(company_id)
        found = CompanyFacts(
            country=company.country,
            keys=self._keys_of(company),
            timezone=company.timezone,
            has_leads=company.has_leads,
        )
        with self._lock:
            self._facts[company_id] = found
        return found
