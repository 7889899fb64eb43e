"""Privacy figures. An erasure of the busiest client of the report data's large company (half of
all calls): the time until no report counts it (the control-plane write and the first summary
over 180 days that leaves it out), next to the same summary without an erasure; and until it is
done (counts and every mutation), next to one mutation of `calls` that deletes nothing, in the
same run. Then the company archive of 1 million calls: the peak RSS of the process writing it,
sampled while it writes, next to the same process just before (imports, chDB open, a count
of the company's calls): the difference is the archive's own memory."""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bench.leads import MASTER_KEY, new_company
from bench.report_data import BIG_COMPANY, ReportDataShape, generate, now_utc
from core.calls.phone_numbers import mask_number
from core.clickhouse import ClickHouse, connect, migrate
from core.company_clickhouse import CompanyClickHouse
from core.controlplane import companies, make_engine
from core.controlplane import migrate as migrate_controlplane
from core.hooks.events import forget_number
from core.number_crypto import (
    blind_index,
    encrypt_number,
    unwrap_company_keys,
)
from core.privacy import erasures, mutations
from core.reports.filters import CallFilter
from core.reports.queries import summary
from core.reports.range import parse_range
from streams.calls.rows import CALL_COLUMNS
from streams.privacy.export import write_archive
from streams.privacy.jobs import carry_out

EXPORT_COMPANY = "bench-export"
REPEATS = 5  # summaries with and without the erasure terms, for their medians


def timed(run: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = run()
    return round(time.perf_counter() - started, 3), result


def erasure(
    store: ClickHouse, engine: Engine, shape: ReportDataShape, progress: Callable[[str], None]
) -> dict[str, Any]:
    end = now_utc()
    progress(f"privacy: generating {shape.total_calls:,} calls in chDB")
    generate(store, shape, end)
    new_company(engine, BIG_COMPANY)
    busiest = store.query(
        """SELECT client_key, count() AS n FROM calls FINAL
        WHERE company_id = %(c)s AND client_key != '' GROUP BY client_key
        ORDER BY n DESC LIMIT 1""",
        {"c": BIG_COMPANY},
    )[0]
    rng = parse_range(
        (end - timedelta(days=shape.days - 1)).date().isoformat(),
        end.date().isoformat(),
        None,
        "Asia/Kolkata",
        end,
    )
    f = CallFilter(range=rng)
    plain = CompanyClickHouse(store, BIG_COMPANY)
    summary(plain, f, rng)  # warm
    before = summary(plain, f, rng)

    def request() -> None:
        with engine.begin() as conn:
            erasures.request_erasure(
                conn,
                BIG_COMPANY,
                datetime.now(UTC),
                number_key=busiest["client_key"],
                forget_number=forget_number,
            )

    def hidden_summary() -> dict[str, Any]:
        with engine.connect() as conn:
            hiding = CompanyClickHouse(store, BIG_COMPANY, erasures.hidden(conn, BIG_COMPANY))
        return summary(hiding, f, rng)

    progress("privacy: erasing the busiest client")
    request_s, _ = timed(request)  # the 202: every read after it leaves the number out
    first_read_s, after = timed(hidden_summary)
    assert after["total_calls"] == before["total_calls"] - busiest["n"], (before, after)
    with_terms = [timed(hidden_summary)[0] for _ in range(REPEATS)]
    without = [timed(lambda: summary(plain, f, rng))[0] for _ in range(REPEATS)]
    noop_s, _ = timed(
        lambda: mutations.run(store, mutations.Plan([[("calls", "company_id = 'nobody'")]]))
    )
    with engine.connect() as conn:
        pending = erasures.pending(conn, BIG_COMPANY)[0]
    done_s, _ = timed(lambda: carry_out(engine, store, pending, datetime.now(UTC)))
    with engine.connect() as conn:
        counts = erasures.find(conn, BIG_COMPANY, pending.id)
    return {
        "company_calls": int(before["total_calls"]),
        "erased_calls": int(busiest["n"]),
        "request_s": request_s,
        "invisible_s": round(request_s + first_read_s, 3),
        "summary_with_erasure_s": round(statistics.median(with_terms), 3),
        "summary_without_erasure_s": round(statistics.median(without), 3),
        "done_s": done_s,
        "noop_mutation_s": noop_s,
        "counts": counts.counts if counts else {},
    }


def export_data(store: ClickHouse, engine: Engine, calls: int, days: int = 30) -> None:
    """`calls` real calls (ciphertexts under the company's key) over `days`, 20,000 clients."""
    with engine.connect() as conn:
        wrapped = conn.execute(
            sa.select(companies.c.wrapped_data_key).where(companies.c.id == EXPORT_COMPANY)
        ).scalar_one()
    keys = unwrap_company_keys(MASTER_KEY, EXPORT_COMPANY, wrapped)
    rng = random.Random(7)
    clients = []
    for n in range(20_000):
        number = f"+9198{n:08d}"
        clients.append(
            (blind_index(keys, number), encrypt_number(keys, number), mask_number(number))
        )
    start = datetime.now(UTC) - timedelta(days=days)
    chunk = 100_000
    for first in range(0, calls, chunk):
        rows = []
        for n in range(first, min(first + chunk, calls)):
            key, enc, masked = clients[rng.randrange(len(clients))]
            at = start + timedelta(seconds=rng.randrange(days * 86400))
            rows.append(
                (EXPORT_COMPANY, f"dev-{n % 50}", str(n), uuid.UUID(int=n).hex, f"emp-{n % 50}",
                 key, enc, masked, "", "outgoing", at, rng.randrange(300), 0, "", at, 1)
            )  # fmt: skip
        store.insert("calls", CALL_COLUMNS, rows)


def archive_child(clickhouse_url: str, database_url: str, out: str) -> None:
    """In its own process: open everything (the baseline: with chDB, its own footprint), then
    write the archive while a thread samples the RSS; print both."""
    store = connect(clickhouse_url)
    engine = make_engine(database_url)
    with engine.connect() as conn:
        wrapped = conn.execute(
            sa.select(companies.c.wrapped_data_key).where(companies.c.id == EXPORT_COMPANY)
        ).scalar_one()
    keys = unwrap_company_keys(MASTER_KEY, EXPORT_COMPANY, wrapped)
    store.query(
        "SELECT count() AS n FROM calls FINAL WHERE company_id = %(c)s", {"c": EXPORT_COMPANY}
    )
    me = psutil.Process()
    opened_mb = me.memory_info().rss / 2**20
    peak = [opened_mb]
    writing = threading.Event()

    def sample() -> None:
        while not writing.wait(0.05):
            peak[0] = max(peak[0], me.memory_info().rss / 2**20)

    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.perf_counter()
    try:
        counts = write_archive(Path(out), engine, store, EXPORT_COMPANY, keys)
    finally:
        writing.set()
        sampler.join()
    print(
        json.dumps(
            {
                "opened_rss_mb": round(opened_mb, 1),
                "peak_rss_mb": round(peak[0], 1),
                "seconds": round(time.perf_counter() - started, 1),
                "counts": counts,
                "size_mb": round(os.path.getsize(out) / 2**20, 1),
            }
        )
    )


def write_in_child(clickhouse_url: str, database_url: str, out: Path, calls: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.privacy", clickhouse_url, database_url, str(out)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    written: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert written["counts"]["calls"] == calls, written
    return {
        "peak_rss_mb": written["peak_rss_mb"],
        "baseline_rss_mb": written["opened_rss_mb"],
        "growth_mb": round(written["peak_rss_mb"] - written["opened_rss_mb"], 1),
        "seconds": written["seconds"],
        "size_mb": written["size_mb"],
    }


def archive(
    scratch: Path, store: ClickHouse, engine: Engine, calls: int, progress: Callable[[str], None]
) -> dict[str, Any]:
    """The archive from chDB (the worker's process holds ClickHouse) and, where Debian's
    clickhouse-server is installed, from a server (the production path: the process holds
    only the writer)."""
    progress(f"privacy: {calls:,} calls with real ciphertexts for the archive")
    new_company(engine, EXPORT_COMPANY)
    export_data(store, engine, calls)
    store.close()  # one process per chDB directory: the child opens it
    database_url = str(engine.url)
    progress("privacy: writing the archive in its own process, sampling its RSS")
    figures = {
        "calls": calls,
        **write_in_child(f"chdb://{scratch / 'chdb'}", database_url, scratch / "a.zip", calls),
    }
    try:
        from tests.support.services import ClickHouseServer

        (scratch / "clickhouse-server").mkdir()
        server = ClickHouseServer(scratch / "clickhouse-server")
    except RuntimeError:
        return figures  # no server here: the chDB figures only
    server.start()
    try:
        url = server.url("bench")
        remote = connect(url)
        migrate(remote)
        export_data(remote, engine, calls)
        remote.close()
        progress("privacy: the same archive from a ClickHouse server")
        figures["server"] = write_in_child(url, database_url, scratch / "b.zip", calls)
    finally:
        server.stop()
    return figures


def run(
    scratch: Path,
    shape: ReportDataShape,
    export_calls: int,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    """The erasure over the report data, then the archive of a company added to it."""
    scratch.mkdir(parents=True, exist_ok=True)
    engine = make_engine(f"sqlite:///{scratch / 'control.db'}")
    migrate_controlplane(engine)
    store = connect(f"chdb://{scratch / 'chdb'}")
    migrate(store)
    return {
        "erasure": erasure(store, engine, shape, progress),
        "archive": archive(scratch, store, engine, export_calls, progress),
    }


if __name__ == "__main__":
    archive_child(sys.argv[1], sys.argv[2], sys.argv[3])
