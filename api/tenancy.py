"""Tenant scoping: the authenticated company and a ClickHouse handle that refuses unscoped SQL."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from api.policy import Role
from core.clickhouse import ClickHouse, Param
from core.controlplane import Company

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


@dataclass(frozen=True, slots=True)
class Tenant:
    """Who calls: an API key (`key_id`) or a signed-in user (`user_id`, `session`: the digest of
    the access token), with the role they act with."""

    company: Company
    role: Role
    clickhouse: CompanyClickHouse
    key_id: str | None = None
    user_id: str | None = None
    session: str | None = None
    # a team-limited user sees these employees only (None: the whole company); never empty: a
    # team without employees is NOBODY
    employee_ids: tuple[str, ...] | None = None

    def visible(self, requested: tuple[str, ...]) -> tuple[str, ...]:
        """The employee filter the caller gets: what they asked for (already checked to be of
        their scope), else their scope; () means the whole company."""
        return requested or (self.employee_ids or ())


# Employee ids are UUIDs, never empty: a filter on this matches nobody.
NOBODY = ("",)
