"""Synthetic call history generated inside ClickHouse (seconds for millions of rows): one large
company (200 employees) and 50 small ones (10 employees each) over 180 days, with re-sent calls."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core.calls import client_states, day_clients
from core.calls.aggregates import BACKFILL_SQL, rebuild_days
from core.clickhouse import ClickHouse
from streams.calls.rows import CALL_COLUMNS

BIG_COMPANY = "bench-big"
ZONE = "Asia/Kolkata"  # the big company's zone: the benchmarks' ranges are its local days


@dataclass(frozen=True, slots=True)
class ReportDataShape:
    total_calls: int = 10_000_000
    big_share: float = 0.5  # the rest is spread over the small companies
    days: int = 180
    big_employees: int = 200
    small_companies: int = 50
    small_employees: int = 10
    clients_per_employee: int = 100  # of the large company: a rep's book of clients
    resent_share: float = 0.02
    chunks: int = 10

    @property
    def clients_per_company(self) -> int:
        """Clients grow with the team (20,000 for 200 employees): a larger company with the
        same clients would call each one ten times as often, which flatters every per-client
        figure."""
        return self.big_employees * self.clients_per_employee


# Client and day come from independent hashes of the call's number (taking each as n modulo its
# count correlated them: every employee worked 9 days of 180, every client was called on 9, which
# made per-day and per-client groupings 20x smaller than a real team's). A client has an account
# owner who makes 95% of its calls; anyone in the company makes the rest.
GENERATE_SQL = """INSERT INTO calls ({columns})
SELECT company_id, device_id, client_call_id, call_id, employee_id, client_key, number_enc,
       number_masked, name, type, started_at, duration_s, sim_slot, note, synced_at, version
FROM (
    SELECT number AS n,
        n < {big_n} AS big,
        if(big, '{big}', concat('bench-small-', toString(n % {small_companies}))) AS company_id,
        cityHash64(n, 8) % {clients} AS client_no,
        if(big, {big_employees}, {small_employees}) AS staff,
        if(cityHash64(n, 10) % 20 < 19, cityHash64(company_id, client_no) % staff,
           cityHash64(n, 7) % staff) AS employee_no,
        concat(company_id, '-emp-', toString(employee_no)) AS employee_id,
        concat('dev-', employee_id) AS device_id,
        toString(n) AS client_call_id,
        lower(hex(MD5(toString(n)))) AS call_id,
        if(n % 33 = 0, '', lower(hex(MD5(concat(company_id, toString(client_no)))))) AS client_key,
        if(client_key = '', '', 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA') AS number_enc,
        if(client_key = '', '', concat('+91******', leftPad(toString(cityHash64(client_key) % 10000), 4, '0'))) AS number_masked,
        if(cityHash64(n, 5) % 3 = 0, 'Ravi', '') AS name,
        multiIf(cityHash64(n, 1) % 100 < 25, 'incoming', cityHash64(n, 1) % 100 < 70, 'outgoing',
                cityHash64(n, 1) % 100 < 85, 'missed', cityHash64(n, 1) % 100 < 90, 'rejected',
                cityHash64(n, 1) % 100 < 93, 'voicemail', cityHash64(n, 1) % 100 < 96, 'blocked',
                'answered_externally') AS type,
        toDateTime({start_ts} + (cityHash64(n, 9) % {days}) * 86400 + 12600 + cityHash64(n, 4) % 36000) AS started_at,
        toUInt32(if(type IN ('incoming', 'outgoing') AND cityHash64(n, 2) % 100 < 75,
                    cityHash64(n, 3) % 900 + 1, 0)) AS duration_s,
        toInt8(cityHash64(n, 6) % 2) AS sim_slot,
        '' AS note,
        started_at + 60 AS synced_at,
        toUInt64(n) AS version
    FROM numbers({first}, {count})
)"""


def generate(store: ClickHouse, shape: ReportDataShape, end: datetime) -> dict[str, int]:
    """Fill `calls` with the shape ending at `end`; re-send a share with a longer duration."""
    start_ts = int((end - timedelta(days=shape.days)).timestamp())
    params = {
        "big_n": int(shape.total_calls * shape.big_share),
        "big": BIG_COMPANY,
        "small_companies": shape.small_companies,
        "big_employees": shape.big_employees,
        "small_employees": shape.small_employees,
        "clients": shape.clients_per_company,
        "start_ts": start_ts,
        "days": shape.days,
        "columns": ", ".join(CALL_COLUMNS),
    }
    chunk = shape.total_calls // shape.chunks
    for index in range(shape.chunks):
        store.execute(GENERATE_SQL.format(first=index * chunk, count=chunk, **params))
    resent = int(shape.total_calls * shape.resent_share)
    store.execute(
        GENERATE_SQL.format(first=0, count=resent, **params).replace(
            "toUInt64(n) AS version", "toUInt64(n) + 1000000000000 AS version"
        )
    )
    # the worker keeps the aggregates of what it stores; this history bypassed it
    store.execute(BACKFILL_SQL)
    # steady state: a live table is merged in the background; settle it before timing
    for table in ("calls", "call_clients", "call_employees", "client_calls", "call_quarters"):
        store.execute(f"OPTIMIZE TABLE {table} FINAL")
    return {"rows": shape.total_calls + resent, "calls": shape.total_calls, "resent": resent}


def with_rollups(store: ClickHouse) -> dict[str, float]:
    """The big company's per-employee days in ZONE, its client states and its days' unique
    clients, written as the worker's rounds write them for history stored before
    (core/calls/aggregates.py, client_states.py, day_clients.py), then settled."""
    started = time.perf_counter()
    rows = rebuild_days(store, BIG_COMPANY, ZONE)
    days_s = time.perf_counter() - started
    started = time.perf_counter()
    states = client_states.rebuild(store, BIG_COMPANY, ZONE)
    states_s = time.perf_counter() - started
    for table in ("call_days", "call_hours", "company_hours", *client_states.TABLES):
        store.execute(f"OPTIMIZE TABLE {table} FINAL")
    started = time.perf_counter()
    figures = 0
    for kind in day_clients.KINDS:
        while True:  # the day- and hour-figure round, as many rounds as it takes
            done, left = day_clients.recompute_stale(store, BIG_COMPANY, ZONE, kind.per_round, kind)
            figures += done
            if not left:
                break
        store.execute(f"OPTIMIZE TABLE {kind.table} FINAL")
    return {
        "day_rows": rows,
        "days_rebuild_s": round(days_s, 1),
        "client_states": states,
        "employee_client_rows": int(
            store.query("SELECT count() AS n FROM employee_clients")[0]["n"]
        ),
        "states_rebuild_s": round(states_s, 1),
        "day_and_hour_figures": figures,
        "day_and_hour_figures_s": round(time.perf_counter() - started, 1),
    }


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
