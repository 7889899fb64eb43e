"""Who a report is for: a company's ClickHouse handle as its reports read it (erased rows
hidden, the aggregates it may use) and the employees a team-limited user sees. The report API
(api/deps.py) and the digests (core/notices/digests.py) scope the same way."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core.calls.client_states import states_from
from core.clickhouse import ClickHouse
from core.company_clickhouse import CompanyClickHouse
from core.controlplane import Company, employees
from core.privacy.erasures import hidden

# Employee ids are UUIDs, never empty: a filter on this matches nobody.
NOBODY = ("",)


def company_view(conn: Connection, clickhouse: ClickHouse, company: Company) -> CompanyClickHouse:
    return CompanyClickHouse(
        clickhouse,
        company.id,
        hidden(conn, company.id),
        company.rollup_zone if company.rollup_zone == company.timezone else None,
        states_from(company.client_states_from),
    )


def team_employees(db: Connection, company_id: str, teams: list[str]) -> tuple[str, ...] | None:
    """The employees of `teams` (NOBODY when they have none); None without a team limit."""
    if not teams:
        return None
    found = db.execute(
        sa.select(employees.c.id).where(
            employees.c.company_id == company_id, employees.c.team.in_(teams)
        )
    ).scalars()
    return tuple(sorted(found)) or NOBODY
