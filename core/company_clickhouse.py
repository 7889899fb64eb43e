"""ClickHouse bound to one company: every query runs with `company_id` bound and must filter on
it (report queries, and the worker's reads for one company). Rows of a pending erasure
(core/privacy/erasures.py) are left out by the `NOT_ERASED*` terms: a query of `calls` without one is
refused like one without the company filter."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.clickhouse import ClickHouse, Param

COMPANY_FILTER = "company_id = %(company_id)s"
# Rows of pending erasures: clients (blind indexes as UUIDs, `client`, or hex, `client_key`) and
# devices (an employee's withdrawn consent). Each part reads `1` while nothing of its kind is
# pending, so a read pays only for what is hidden.
# the numbers (`employee`, migration 0006) of the employees `%(employee_ids)s`
EMPLOYEE_KEYS = f"""employee IN (SELECT employee FROM call_employees
    WHERE {COMPANY_FILTER} AND employee_id IN %(employee_ids)s)"""
NOT_ERASED_CLIENT = "client NOT IN %(erased_clients)s"
NOT_ERASED_KEY = "client_key NOT IN %(erased_keys)s"
NOT_ERASED_DEVICE = "device_id NOT IN %(erased_devices)s"
NOT_ERASED = f"({NOT_ERASED_CLIENT} AND {NOT_ERASED_DEVICE})"
NOT_ERASED_CONTACT = f"({NOT_ERASED_KEY} AND {NOT_ERASED_DEVICE})"
_READS_CALLS = re.compile(r"\bFROM\s+calls\b")
# matches no row: blind indexes are HMAC digests, device ids UUIDs (never empty)
_NOBODY_CLIENT = "ffffffff-ffff-ffff-ffff-ffffffffffff"


def as_uuid(client_key: str) -> str:
    """A blind index (hex, `client_key`) as the `client` columns store it."""
    return str(uuid.UUID(client_key))


class UnscopedQuery(RuntimeError):
    """A report query without the company filter or the erasure terms: a programming error,
    never sent."""


@dataclass(frozen=True, slots=True)
class Hidden:
    """What pending erasures hide: client blind indexes (hex) and device ids."""

    client_keys: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()

    def params(self) -> dict[str, Param]:
        clients = tuple(as_uuid(key) for key in self.client_keys)
        return {
            "erased_clients": clients or (_NOBODY_CLIENT,),
            "erased_keys": self.client_keys or ("",),
            "erased_devices": self.devices or ("",),
        }


@dataclass(frozen=True, slots=True)
class CompanyClickHouse:
    """Every query runs with `company_id` bound to the caller's company and must filter on it."""

    clickhouse: ClickHouse
    company_id: str
    hidden: Hidden = field(default_factory=Hidden)
    day_zone: str | None = None  # the zone `call_days` is complete in for the company
    # the earliest range start (Unix seconds) `client_states` answer for it; None: they do not
    client_states_from: int | None = None

    def query(self, sql: str, params: Mapping[str, Param] | None = None) -> list[dict[str, Any]]:
        if COMPANY_FILTER not in sql:
            raise UnscopedQuery(f"query lacks `{COMPANY_FILTER}`: {sql[:80]}")
        if _READS_CALLS.search(sql) and NOT_ERASED not in sql:
            raise UnscopedQuery(f"a query of calls lacks `NOT_ERASED`: {sql[:80]}")
        bound: dict[str, Param] = {**(params or {}), "company_id": self.company_id}
        bound.update(self.hidden.params())
        for part, hides in (
            (NOT_ERASED_CLIENT, self.hidden.client_keys),
            (NOT_ERASED_KEY, self.hidden.client_keys),
            (NOT_ERASED_DEVICE, self.hidden.devices),
        ):
            if not hides:
                sql = sql.replace(part, "1")
        return self.clickhouse.query(sql, bound)
