"""Baselines for the worker, in a process of their own (chDB allows one data directory per
process): the transform alone (normalise + encrypt + blind index) and the raw insert of the
same rows into ClickHouse in the worker's batch size. Prints one JSON object."""

from __future__ import annotations

import json
import os
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil

from core.accounts.directory import CompanyFacts
from core.clickhouse import connect, migrate
from core.number_crypto import new_wrapped_data_key, unwrap_company_keys
from deploy.fleet import FleetConfig, Phone, client_numbers, make_call
from ingest.call_batches import validate_calls
from ingest.identity import DeviceIdentity
from streams.calls.rows import CALL_COLUMNS, call_rows, decode_calls_event


def main(data_dir: Path, count: int, batch_rows: int) -> dict[str, float]:
    master = os.urandom(32)
    crypto = CompanyFacts(
        "IN", unwrap_company_keys(master, "bench", new_wrapped_data_key(master, "bench"))
    )
    device = DeviceIdentity("device", "bench", "employee", tracking_enabled=True)
    rng = random.Random(1)
    phone = Phone(token="", name="bench", rng=rng, id_prefix="raw")
    clients = client_numbers(rng, FleetConfig().clients)
    now = datetime.now(UTC)
    records = [make_call(phone, clients, now, 330) for _ in range(count)]
    raw = [
        event.model_dump_json().encode() for event in validate_calls(records, device, now).events
    ]

    started = time.perf_counter()
    rows = [row for value in raw for row in call_rows(decode_calls_event(value), crypto)]
    transform_s = time.perf_counter() - started

    rss_without_chdb = psutil.Process().memory_info().rss
    store = connect(f"chdb://{data_dir}")
    migrate(store)
    started = time.perf_counter()
    for first in range(0, len(rows), batch_rows):
        store.insert("calls", CALL_COLUMNS, rows[first : first + batch_rows])
    insert_s = time.perf_counter() - started
    return {
        "transform_rows_per_s": round(count / transform_s),
        "insert_rows_per_s": round(count / insert_s),
        # what opening chDB and inserting the rows added to this process: chDB's own footprint
        "chdb_rss_mb": round((psutil.Process().memory_info().rss - rss_without_chdb) / 2**20, 1),
    }


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))))
