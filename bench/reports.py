"""Report latency on chDB: p50/p95 of every report for a 30-day and a 180-day range of the
largest company, next to a baseline (a plain `count()` over the same company and range)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

from api.calls.history import newest_calls
from bench import leads
from bench.report_data import BIG_COMPANY, ZONE, ReportDataShape, generate, now_utc, with_rollups
from core.clickhouse import ClickHouse, connect, migrate
from core.company_clickhouse import CompanyClickHouse
from core.reports import queries as q
from core.reports.filters import CallFilter
from core.reports.queries.aggregates import Source
from core.reports.queries.counts import client_figures
from core.reports.range import parse_range


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def timed(run: Callable[[], Any], repeats: int) -> dict[str, float]:
    run()  # warm caches once, as a dashboard that stays open would
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        samples.append((time.perf_counter() - started) * 1000)
    return {
        "p50_ms": round(statistics.median(samples), 1),
        "p95_ms": round(percentile(samples, 0.95), 1),
    }


# a series as the API reads it, and from the raw calls
RAW_TOO: tuple[tuple[Source | None, str], ...] = ((None, ""), ("calls", " (raw calls)"))


def report_runs(ch: CompanyClickHouse, f: CallFilter) -> dict[str, Callable[[], Any]]:
    """Every report as the API runs it (the aggregates where they serve: days over these
    whole local days), and the counting ones again from quarters and from the raw calls."""
    rng = f.range
    assert rng is not None
    page = q.Page(100)
    employee = (f"{BIG_COMPANY}-emp-7",)
    one_employee = replace(f, employee_ids=employee)

    def counting(source: Source | None) -> dict[str, Callable[[], Any]]:
        return {
            "summary": lambda: q.summary(ch, f, rng, source),
            "employees": lambda: q.employee_rows(ch, f, rng, [], source),
            "analytics day": lambda: q.analytics(ch, f, rng, "day", source=source),
            "analytics day, counts only": lambda: q.analytics(
                ch, f, rng, "day", False, source=source
            ),
            "working-hours": lambda: q.working_hours(ch, f, rng, page, source),
        }

    sources: tuple[tuple[Source, str], ...] = (("quarters", "quarters"), ("calls", "raw calls"))
    variants = {
        f"{name} ({label})": call
        for source, label in sources
        for name, call in counting(source).items()
    }
    return {
        "baseline count()": lambda: ch.query(
            f"SELECT count() AS n FROM calls {f.where()[0]}", f.where()[1]
        ),
        **counting(None),
        **variants,
        "summary's per-client figures (client states)": lambda: client_figures(ch, f),
        "summary's per-client figures (raw calls)": lambda: client_figures(ch, f, False),
        **{
            f"analytics {by}{label}": partial(q.analytics, ch, f, rng, by, source=source)
            for by in ("hour_of_day", "weekday", "type")
            for source, label in RAW_TOO
        },
        **{  # the dashboard's chart
            f"analytics hour_of_day, counts only{label}": partial(
                q.analytics, ch, f, rng, "hour_of_day", False, source=source
            )
            for source, label in RAW_TOO
        },
        "never-attended": lambda: q.never_attended(ch, f, rng, page, None),
        "never-attended 2h": lambda: q.never_attended(ch, f, rng, page, 2),
        "not-picked-up": lambda: q.not_picked_up(ch, f, rng, page),
        "customers": lambda: q.customers(ch, f, rng, page),
        "call history, newest 100": lambda: newest_calls(ch, f, 101, rng.end_ts),
        "call history, one employee": lambda: newest_calls(ch, one_employee, 101, rng.end_ts),
        "analytics day, one employee": lambda: q.analytics(
            ch, replace(f, employee_ids=employee), rng, "day"
        ),
    }


def run(
    data_dir: Path,
    shape: ReportDataShape,
    repeats: int,
    progress: Callable[[str], None],
    reports: bool = True,
) -> dict[str, Any]:
    """Every report's latency over generated history (unless `reports` is false), then the
    lead figures over the same calls."""
    store: ClickHouse = connect(f"chdb://{data_dir}")
    migrate(store)
    end = now_utc()
    progress(f"generating {shape.total_calls:,} calls in chDB")
    started = time.perf_counter()
    loaded: dict[str, Any] = dict(generate(store, shape, end))
    loaded["generate_s"] = round(time.perf_counter() - started, 1)
    progress(
        f"writing the per-employee days and client states of {BIG_COMPANY} (as the worker does)"
    )
    loaded.update(with_rollups(store))
    loaded["big_employees"] = shape.big_employees
    loaded["disk_mb"] = round(
        sum(path.stat().st_size for path in data_dir.rglob("*") if path.is_file()) / 2**20
    )
    company = CompanyClickHouse(store, BIG_COMPANY, day_zone=ZONE, client_states_from=0)
    results: dict[str, Any] = {"data": loaded, "ranges": {}}
    for days in (30, 180) if reports else ():
        first = (end - timedelta(days=days - 1)).date().isoformat()
        rng = parse_range(first, end.date().isoformat(), None, ZONE, end)
        f = CallFilter(range=rng)
        progress(f"timing reports over {days} days ({repeats} runs each)")
        results["ranges"][f"{days}d"] = {
            name: timed(call, repeats) for name, call in report_runs(company, f).items()
        }
    results["leads"] = leads.run(store, data_dir, timed, repeats, progress)  # the same calls
    store.close()
    return results
