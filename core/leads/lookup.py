"""Which lead holds a client's number, from ClickHouse's `lead_clients` (written by the report
API's lead transactions): the history's and the webhooks' `lead_id`."""

from __future__ import annotations

from collections.abc import Iterable

from core.company_clickhouse import COMPANY_FILTER, CompanyClickHouse, as_uuid


def leads_of_clients(ch: CompanyClickHouse, client_keys: Iterable[str]) -> dict[str, str]:
    """client key -> the lead holding that number, for the clients given."""
    wanted = tuple(sorted({key for key in client_keys if key}))
    if not wanted:
        return {}
    rows = ch.query(
        f"""SELECT client_key, lead_id FROM lead_clients FINAL
        WHERE {COMPANY_FILTER} AND deleted = 0 AND client IN %(clients)s""",
        {"clients": tuple(as_uuid(key) for key in wanted)},
    )
    return {row["client_key"]: row["lead_id"] for row in rows}
