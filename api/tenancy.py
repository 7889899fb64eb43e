"""Tenant scoping: the authenticated company and a ClickHouse handle that refuses unscoped SQL."""

from __future__ import annotations

from dataclasses import dataclass

from api.policy import Role
from core.company_clickhouse import CompanyClickHouse
from core.controlplane import Company
from core.number_crypto import CompanyKeys, MasterKey, unwrap_company_keys


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


def company_keys(company: Company, master_key: MasterKey) -> CompanyKeys:
    """The company's number keys, unwrapped with the master key."""
    return unwrap_company_keys(master_key, company.id, company.wrapped_data_key)
