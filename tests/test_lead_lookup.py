"""The ClickHouse lookup of lead numbers, on chDB and on ClickHouse 18.16: a released number is
hidden at once and leaves no row once its mutation ran; a number moved to another lead links to
that one."""

from __future__ import annotations

import uuid

from api.leads.calls import LeadClientWrites
from core.clickhouse import ClickHouse
from core.company_clickhouse import CompanyClickHouse
from core.leads.lookup import leads_of_clients
from tests.support.stack import eventually


def rows_of(ch: CompanyClickHouse, lead_id: str) -> list[str]:
    found = ch.query(
        """SELECT client_key FROM lead_clients
        WHERE company_id = %(company_id)s AND lead_id = %(lead_id)s ORDER BY client_key""",
        {"lead_id": lead_id},
    )
    return [row["client_key"] for row in found]


def test_released_numbers_leave_no_row_and_moved_ones_link_anew(
    clickhouse_store: ClickHouse,
) -> None:
    ch = CompanyClickHouse(clickhouse_store, str(uuid.uuid4()))
    first, second = uuid.uuid4().hex, uuid.uuid4().hex
    a, b = "lead-a", "lead-b"

    writes = LeadClientWrites.for_company(ch.company_id)
    writes.hold(a, [first, second])
    writes.write(clickhouse_store)
    assert leads_of_clients(ch, [first, second]) == {first: a, second: a}

    writes = LeadClientWrites.for_company(ch.company_id)
    writes.release(a, [first])  # deleted or renumbered: hidden at once
    writes.release(a, [second])
    writes.hold(b, [second])  # the number is now another lead's
    writes.write(clickhouse_store)
    assert leads_of_clients(ch, [first, second]) == {second: b}
    eventually(lambda: rows_of(ch, a) == [], timeout_s=30)  # the mutation removed every row
    assert rows_of(ch, b) == [second]
