"""The calls' change feed (GET /v1/changes/calls) through the HTTP API at `limit=1000` over one
company's history (10M calls in the full run, stored over 690 days), at its first pages and at
its last; next to, in the same run, a raw ClickHouse read of the same rows (the feed's columns,
the same order, one query from Python).

The generator's calls reach `call_changes` through its view, stamped with the second they were
generated in; they are then stored again as a real history has them, each version at its upload
time (`synced_at`), and the company made before its first call."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from pydantic_core import from_json

from bench.console import EMAIL, PASSWORD, dashboard_shape, prepare, start_api
from bench.report_data import BIG_COMPANY
from core.calls.changes import COLUMNS
from core.clickhouse import ClickHouse, connect
from core.controlplane import companies, make_engine
from core.paging import encode_cursor

LIMIT = 1000
HISTORY_DAYS = 690  # 99 weeks: calls are partitioned by week, at most 100 in one insert
AS_UPLOADED = """INSERT INTO call_changes (company_id, changed_at, call_id, version, deleted,
    device_id, client_call_id, employee_id, client_key, number_enc, number_masked, name, type,
    started_at, duration_s, sim_slot, note, synced_at)
SELECT company_id, synced_at, call_id, version, 0, device_id, client_call_id, employee_id,
    client_key, number_enc, number_masked, name, type, started_at, duration_s, sim_slot, note,
    synced_at
FROM calls WHERE company_id = '{company}'"""
RAW_SQL = f"""SELECT {COLUMNS} FROM call_changes
WHERE company_id = '{BIG_COMPANY}' AND changed_at >= toDateTime(%(from_ts)s)
ORDER BY changed_at, call_id, version LIMIT %(rows)s"""


def as_uploaded(scratch: Path, database_url: str, pages: int) -> int:
    """The feed as a real history has it; the company made a day before its first call. The
    second the last `pages` pages start at."""
    store = connect(f"chdb://{scratch / 'chdb'}")
    store.execute("TRUNCATE TABLE call_changes")
    store.execute(AS_UPLOADED.format(company=BIG_COMPANY))
    first_ts = store.query(
        f"SELECT toUnixTimestamp(min(synced_at)) AS ts FROM calls WHERE company_id = '{BIG_COMPANY}'"
    )[0]["ts"]
    last_pages = store.query(
        f"""SELECT toUnixTimestamp(changed_at) AS ts FROM call_changes
        WHERE company_id = '{BIG_COMPANY}'
        ORDER BY changed_at DESC, call_id DESC, version DESC LIMIT 1 OFFSET {pages * LIMIT}"""
    )
    store.close()
    engine = make_engine(database_url)
    made = datetime.fromtimestamp(int(first_ts), UTC) - timedelta(days=1)
    with engine.begin() as conn:
        conn.execute(
            companies.update().where(companies.c.id == BIG_COMPANY).values(created_at=made)
        )
    engine.dispose()
    return int(last_pages[0]["ts"]) if last_pages else 0


def page_through(client: httpx.Client, cursor: str | None, pages: int) -> tuple[list[float], int]:
    """`pages` pages from `cursor`: each one's milliseconds, and the calls they held."""
    latencies, calls = [], 0
    for _ in range(pages):
        params: dict[str, Any] = {"limit": LIMIT, **({"cursor": cursor} if cursor else {})}
        started = time.perf_counter()
        answer = client.get("/v1/changes/calls", params=params)
        answer.raise_for_status()
        page = from_json(answer.content)  # as a client would: a fast decoder (Rust)
        latencies.append((time.perf_counter() - started) * 1000)
        calls += len(page["items"])
        cursor = page["next_cursor"]
    return latencies, calls


def raw_read(store: ClickHouse, from_ts: int, rows: int) -> tuple[float, int]:
    started = time.perf_counter()
    found = store.query(RAW_SQL, {"from_ts": from_ts, "rows": rows})
    return time.perf_counter() - started, len(found)


def run(scratch: Path, calls: int, pages: int, progress: Callable[[str], None]) -> dict[str, Any]:
    scratch.mkdir(parents=True, exist_ok=True)
    shape = dashboard_shape(calls, days=HISTORY_DAYS)
    database_url = prepare(scratch, shape, progress)
    progress(f"changes: the feed as uploaded over {HISTORY_DAYS} days")
    last_ts = as_uploaded(scratch, database_url, pages)
    process, url = start_api(scratch, database_url)
    try:
        login = httpx.post(f"{url}/v1/auth/login", json={"email": EMAIL, "password": PASSWORD})
        token = login.json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
            progress(f"changes: {pages} pages of {LIMIT} from the first and from the last")
            first_ms, first_calls = page_through(client, None, pages)
            last_ms, last_calls = page_through(client, encode_cursor(last_ts, ""), pages)
    finally:
        process.terminate()
        process.wait(30)
    store = connect(f"chdb://{scratch / 'chdb'}")
    try:
        raw_first_s, raw_first_rows = raw_read(store, 0, first_calls)
        raw_last_s, raw_last_rows = raw_read(store, last_ts, last_calls)
    finally:
        store.close()
    feed_rate = (first_calls + last_calls) / ((sum(first_ms) + sum(last_ms)) / 1000)
    raw_rate = (raw_first_rows + raw_last_rows) / (raw_first_s + raw_last_s)
    return {
        "calls": calls,
        "days": HISTORY_DAYS,
        "pages": pages,
        "feed_calls_per_s": round(feed_rate),
        "raw_rows_per_s": round(raw_rate),
        "ratio": round(feed_rate / raw_rate, 2),
        "first_page_ms": latency(first_ms),
        "last_page_ms": latency(last_ms),
    }


def latency(samples: list[float]) -> dict[str, float]:
    return {
        "p50": round(statistics.median(samples), 1),
        "p95": round(statistics.quantiles(samples, n=20, method="inclusive")[18], 1)
        if len(samples) > 1
        else round(samples[0], 1),
    }
