"""ClickHouse bound to one company: every query runs with `company_id` bound and must filter on
it (report queries, and the worker's reads for one company)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.clickhouse import ClickHouse, Param

COMPANY_FILTER = "company_id = %(company_id)s"


class UnscopedQuery(RuntimeError):
    """A report query without the company filter: a programming error, never sent."""


@dataclass(frozen=True, slots=True)
class CompanyClickHouse:
    """Every query runs with `company_id` bound to the caller's company and must filter on it."""

    clickhouse: ClickHouse
    company_id: str

    def query(self, sql: str, params: Mapping[str, Param] | None = None) -> list[dict[str, Any]]:
        if COMPANY_FILTER not in sql:
            raise UnscopedQuery(f"query lacks `{COMPANY_FILTER}`: {sql[:80]}")
        return self.clickhouse.query(sql, {**(params or {}), "company_id": self.company_id})
