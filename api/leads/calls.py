"""Where leads meet calls, in ClickHouse (migration 0007): `lead_clients` says which lead holds
a client's number, `client_calls` counts each client's calls. Written with every lead write,
read as a join by client, so a call links to its lead whether it came first or not."""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from core.clickhouse import ClickHouse, quote
from core.company_clickhouse import COMPANY_FILTER, NOT_ERASED_CLIENT, CompanyClickHouse, as_uuid
from core.privacy import mutations


class LeadStatus(StrEnum):
    new = "new"  # no call with its numbers yet
    attempted = "attempted"  # calls, none connected
    connected = "connected"


LEAD_CLIENT_COLUMNS = ("company_id", "client_key", "lead_id", "version", "deleted")


@dataclass(frozen=True, slots=True)
class ClientCalls:
    calls: int = 0
    connected: int = 0
    last_ts: int = 0

    @property
    def status(self) -> LeadStatus:
        if self.connected:
            return LeadStatus.connected
        return LeadStatus.attempted if self.calls else LeadStatus.new

    def __add__(self, other: ClientCalls) -> ClientCalls:
        return ClientCalls(
            self.calls + other.calls,
            self.connected + other.connected,
            max(self.last_ts, other.last_ts),
        )

    @property
    def last_call_at(self) -> datetime | None:
        return datetime.fromtimestamp(self.last_ts, UTC) if self.last_ts else None


NO_CALLS = ClientCalls()


def client_calls(ch: CompanyClickHouse, client_keys: Collection[str]) -> dict[str, ClientCalls]:
    """The calls of each of these clients (blind indexes), over all time."""
    if not client_keys:
        return {}
    rows = ch.query(
        f"""SELECT replaceAll(toString(client), '-', '') AS client_hex,
            count() AS calls, sum(connected) AS connected,
            toUnixTimestamp(max(started_at)) AS last_ts
        FROM client_calls FINAL
        WHERE {COMPANY_FILTER} AND {NOT_ERASED_CLIENT} AND client IN %(clients)s
        GROUP BY client""",
        {"clients": tuple(as_uuid(key) for key in sorted(client_keys))},
    )
    return {
        row["client_hex"]: ClientCalls(
            int(row["calls"]), int(row["connected"]), int(row["last_ts"])
        )
        for row in rows
    }


def first_calls(ch: CompanyClickHouse, client_keys: Collection[str]) -> tuple[int, int]:
    """When these clients were first called, and first connected (Unix seconds; 0: never)."""
    if not client_keys:
        return 0, 0
    (row,) = ch.query(
        f"""SELECT toUnixTimestamp(min(started_at)) AS first_ts,
            toUnixTimestamp(minIf(started_at, connected > 0)) AS connected_ts,
            count() AS call_count, sum(connected) AS connected_count
        FROM client_calls FINAL
        WHERE {COMPANY_FILTER} AND {NOT_ERASED_CLIENT} AND client IN %(clients)s""",
        {"clients": tuple(as_uuid(key) for key in sorted(client_keys))},
    )
    if not int(row["call_count"]):
        return 0, 0
    return int(row["first_ts"]), int(row["connected_ts"]) if int(row["connected_count"]) else 0


def called_leads(ch: CompanyClickHouse) -> set[str]:
    """The leads of the company with at least one call (the others are `new`)."""
    rows = ch.query(
        f"""SELECT DISTINCT lead_id FROM lead_clients FINAL
        WHERE {COMPANY_FILTER} AND deleted = 0
            AND client IN (SELECT client FROM client_calls WHERE {COMPANY_FILTER})"""
    )
    return {row["lead_id"] for row in rows}


@dataclass
class LeadClientWrites:
    """The lookup rows of one lead transaction, written to ClickHouse just before it commits
    (a failed write rolls the transaction back: the lookup never misses a committed lead)."""

    company_id: str
    rows: list[tuple[str, str, str, int, int]]
    retired: dict[str, list[str]]  # lead id -> the client keys it no longer holds
    last_version: int = 0

    @classmethod
    def for_company(cls, company_id: str) -> LeadClientWrites:
        return cls(company_id, [], {})

    def _version(self) -> int:
        """Nanoseconds, strictly increasing: of two writes of a client the later one wins."""
        self.last_version = max(time.time_ns(), self.last_version + 1)
        return self.last_version

    def hold(self, lead_id: str, client_keys: Iterable[str]) -> None:
        self.hold_all([(lead_id, key) for key in client_keys])

    def hold_all(self, held: Iterable[tuple[str, str]]) -> None:
        """(lead id, client key) pairs, written with one version."""
        version = self._version()
        company = self.company_id
        self.rows += [(company, key, lead_id, version, 0) for lead_id, key in held]

    def release(self, lead_id: str, client_keys: Iterable[str]) -> None:
        keys = list(client_keys)
        if not keys:  # a number written again as it was: nothing to release
            return
        version = self._version()
        self.rows.extend((self.company_id, key, lead_id, version, 1) for key in keys)
        self.retired.setdefault(lead_id, []).extend(keys)

    def write(self, clickhouse: ClickHouse) -> None:
        clickhouse.insert("lead_clients", LEAD_CLIENT_COLUMNS, self.rows)
        for lead_id, keys in self.retired.items():
            # the tombstones hide the rows at once; the mutation removes every row of them
            mutations.issue(
                clickhouse,
                "lead_clients",
                f"company_id = {quote(self.company_id)} AND lead_id = {quote(lead_id)} "
                f"AND client_key IN {quote(tuple(keys))}",
            )
