"""Which lead holds a client's number, from ClickHouse's `lead_clients` (written by the report
API's lead transactions): the history's and the webhooks' `lead_id`."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core.clickhouse import IN_LIST_LIMIT
from core.company_clickhouse import COMPANY_FILTER, CompanyClickHouse, as_uuid
from core.controlplane import lead_numbers

CHUNK = 500  # keys per statement (SQLite's limit of bound parameters)


def leads_of_clients(ch: CompanyClickHouse, client_keys: Iterable[str]) -> dict[str, str]:
    """client key -> the lead holding that number, for the clients given."""
    wanted = sorted({key for key in client_keys if key})
    found: dict[str, str] = {}
    for first in range(0, len(wanted), IN_LIST_LIMIT):
        rows = ch.query(
            f"""SELECT client_key, lead_id FROM lead_clients FINAL
            WHERE {COMPANY_FILTER} AND deleted = 0 AND client IN %(clients)s""",
            {"clients": tuple(as_uuid(key) for key in wanted[first : first + IN_LIST_LIMIT])},
        )
        found.update({row["client_key"]: row["lead_id"] for row in rows})
    return found


def lead_holders(db: Connection, company_id: str, client_keys: Iterable[str]) -> dict[str, str]:
    """`leads_of_clients` from the control plane's `lead_numbers` (its primary key: a lookup of
    a page's thousand keys in milliseconds), for a service holding the database."""
    wanted = sorted({key for key in client_keys if key})
    found: dict[str, str] = {}
    for first in range(0, len(wanted), CHUNK):
        rows = db.execute(
            sa.select(lead_numbers.c.number_key, lead_numbers.c.lead_id).where(
                lead_numbers.c.company_id == company_id,
                lead_numbers.c.number_key.in_(wanted[first : first + CHUNK]),
            )
        )
        found.update({row.number_key: row.lead_id for row in rows})
    return found
