"""`python -m bench [--full|--tiny]`: run the benchmarks, print a table, write JSON."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import changes, console, digests, hooks, idle, pipeline, privacy, replication, reports
from bench.report_data import ReportDataShape

REPORT_SHAPES = {
    "tiny": ReportDataShape(total_calls=20_000, chunks=2),
    "quick": ReportDataShape(total_calls=1_000_000),
    "full": ReportDataShape(),
}
# p95 needs enough samples to mean something: of the full run's 40 it is the third slowest, so
# one stall of this shared machine does not decide it (the quick run keeps under 5 minutes)
# the company: 2,000 employees, a manager per ten of them (its run: --calls 100000000)
DIGEST_SHAPES = {
    "tiny": ReportDataShape(total_calls=20_000, chunks=2, big_employees=200),
    "quick": ReportDataShape(total_calls=1_000_000, big_employees=2_000),
    "full": ReportDataShape(big_employees=2_000),
}
REPORT_REPEATS = {"tiny": 3, "quick": 20, "full": 40}
HOOK_EVENTS = {"tiny": 100, "quick": 5_000, "full": 20_000}  # each to 4 hooks
HOOK_LATENCY_S = {"tiny": 1.5, "quick": 20.0, "full": 60.0}
EXPORT_CALLS = {"tiny": 5_000, "quick": 1_000_000, "full": 1_000_000}
DASHBOARD_CALLS = {"tiny": 20_000, "quick": 1_000_000, "full": 5_000_000}
DASHBOARD_LOADS = {"tiny": 2, "quick": 10, "full": 20}
IDLE_SECONDS = {"tiny": 3.0, "quick": 60.0, "full": 60.0}
# the change feed's company, and the pages read at each end of its history
FEED_CALLS = {"tiny": 20_000, "quick": 1_000_000, "full": 10_000_000}
FEED_PAGES = {"tiny": 5, "quick": 50, "full": 200}
PIPELINE_SCALES = {"tiny": pipeline.TINY, "quick": pipeline.QUICK, "full": pipeline.FULL}
# the backlog each replication round drains (the pipeline's phones, fewer calls: four drains)
REPLICATION_SCALES = {
    "tiny": pipeline.TINY,
    "quick": replace(pipeline.QUICK, backlog_calls=50_000),
    "full": replace(pipeline.FULL, backlog_calls=200_000),
}


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def table(results: dict[str, Any]) -> str:
    lines = []
    if "pipeline" in results:
        p = results["pipeline"]
        i, w, f = p["ingest"], p["worker"], p["freshness"]
        lines += [
            "| figure | value | baseline (same run) | ratio |",
            "|---|---|---|---|",
            f"| ingest, accepted calls/s (wrk, 32 connections) | {i['calls_per_s']:,} | floor endpoint {i['floor']['calls_per_s']:,}/s | {i['ratio_to_floor']} |",
            f"| ingest request latency (100 calls) | p50 {i['p50_ms']} ms, p99 {i['p99_ms']} ms | floor p50 {i['floor']['p50_ms']} ms, p99 {i['floor']['p99_ms']} ms | |",
            f"| for reference: kafka-python alone, acks=all | {i['raw_produce_calls_per_s']:,} calls/s | | ingest / raw {i['ratio_to_raw']} |",
            f"| where ingest's CPU goes (py-spy, % of samples) | {', '.join(f'{k} {v}' for k, v in i['profile_pct'].items()) or 'not profiled (py-spy missing)'} | | |",
            f"| worker, stored calls/s | {w['calls_per_s']} | raw chDB insert {w['insert_rows_per_s']:,}/s | {w.get('ratio_to_raw_insert')} |",
            f"| transform alone (normalise+encrypt+index), rows/s | {w['transform_rows_per_s']:,} | | |",
            f"| worker's time in ClickHouse writes: per-employee aggregates / calls' inserts | {w.get('aggregates_s')} s / {w.get('calls_insert_s')} s | | aggregates' share {w.get('aggregates_share')} |",
            f"| freshness at {f['steady_calls_per_s']:,} calls/s (202 -> visible) | p50 {f['p50_ms']} ms, p99 {f['p99_ms']} ms | {f['probes']} probes | |",
            *without_aggregates_rows(w, f, p["without_aggregates"]),
            f"| peak RSS | ingest {p['peak_rss_mb'].get('ingest')} MB (floor {p['peak_rss_mb'].get('floor')} MB), worker+API+chDB {p['peak_rss_mb'].get('worker')} MB | chDB's own footprint (raw insert process) {w['chdb_rss_mb']} MB | worker without chDB ~{round(p['peak_rss_mb'].get('worker', 0) - w['chdb_rss_mb'])} MB |",
        ]
    if "reports" in results:
        r = results["reports"]
        lines += [
            "",
            f"Reports on chDB ({r['data']['calls']:,} calls, largest company = half of them with "
            f"{r['data']['big_employees']:,} employees; generated in {r['data']['generate_s']} s, "
            f"{r['data']['disk_mb']:,} MB on disk; its days written in "
            f"{r['data']['days_rebuild_s']} s, its {r['data']['client_states']:,} client states in "
            f"{r['data']['states_rebuild_s']} s):",
            "",
            "| report | 30 days p50 / p95 ms | 180 days p50 / p95 ms |",
            "|---|---|---|",
        ]
        for name, short in r["ranges"].get("30d", {}).items():
            long = r["ranges"]["180d"][name]
            lines.append(
                f"| {name} | {short['p50_ms']} / {short['p95_ms']} | {long['p50_ms']} / {long['p95_ms']} |"
            )
    if "hooks" in results:
        lines += hooks_table(results["hooks"])
    if "reports" in results and "leads" in results["reports"]:
        lines += leads_table(results["reports"]["leads"], results["reports"]["data"]["calls"])
    if "privacy" in results:
        lines += privacy_table(results["privacy"])
    if "digests" in results:
        lines += digests_table(results["digests"])
    if "console" in results:
        lines += console_table(results["console"])
    if "idle" in results:
        lines += idle_table(results["idle"])
    if "changes" in results:
        lines += changes_table(results["changes"])
    if "replication" in results:
        lines += replication_table(results["replication"])
    return "\n".join(lines)


def replication_table(r: dict[str, Any]) -> list[str]:
    def rates(name: str) -> str:
        return " and ".join(
            f"{rate:,}" if rate else "too few to time" for rate in r["calls_per_s"][name]
        )

    return [
        "",
        f"Replicated ClickHouse ({r['calls']:,} calls drained by the worker into each target, "
        f"{r['rounds']} time(s) each, alternating; the ratio compares the best of each):",
        "",
        "| figure | value | baseline (same run) | ratio |",
        "|---|---|---|---|",
        f"| worker, stored calls/s into two 18.16 replicas (Distributed, ZooKeeper) | {rates('pair')} "
        f"| a single 18.16 server {rates('single')} | {r['ratio']} |",
    ]


def changes_table(c: dict[str, Any]) -> list[str]:
    first, last = c["first_page_ms"], c["last_page_ms"]
    return [
        "",
        f"Change feed (one company of {c['calls']:,} calls stored over {c['days']:,} days; "
        f"{c['pages']} pages of 1,000 at each end of its history):",
        "",
        "| figure | value | baseline (same run) | ratio |",
        "|---|---|---|---|",
        f"| GET /v1/changes/calls?limit=1000, calls/s | {c['feed_calls_per_s']:,} "
        f"| raw ClickHouse read of the same rows {c['raw_rows_per_s']:,}/s | {c['ratio']} |",
        f"| a page's latency, first pages of the history | p50 {first['p50']} ms, p95 {first['p95']} ms "
        f"| last pages: p50 {last['p50']} ms, p95 {last['p95']} ms "
        f"| {round(first['p50'] / last['p50'], 2) if last['p50'] else None} |",
    ]


def without_aggregates_rows(
    worker: dict[str, Any], freshness: dict[str, Any], plain: dict[str, Any]
) -> list[str]:
    """The worker's figures next to the same drain and load without the aggregates."""
    rate, plain_rate = worker["calls_per_s"], plain["worker"]["calls_per_s"]
    ratio = round(rate / plain_rate, 2) if rate and plain_rate else None
    bare = plain["freshness"]
    return [
        f"| worker, stored calls/s, keeping the aggregates | {rate} | without them {plain_rate} | {ratio} |",
        f"| freshness p99, keeping the aggregates | {freshness['p99_ms']} ms | without them {bare['p99_ms']} ms (p50 {bare['p50_ms']}) | |",
    ]


def digests_table(d: dict[str, Any]) -> list[str]:
    return [
        "",
        f"Digests ({d['calls']:,} calls, {d['employees']:,} employees, {d['recipients']} "
        "recipients: a manager per team of ten and the owner):",
        "",
        "| figure | value | baseline (same run) | ratio |",
        "|---|---|---|---|",
        f"| digests computed, rendered, queued and handed to SMTP, per s | {d['digests_per_s']} | "
        f"their report reads alone {d['report_reads_per_s']}/s | {d['ratio']} |",
        f"| of which queued (reads, render, claim) / SMTP | {d['queue_s']} s / {d['smtp_s']} s | "
        f"a mail's size {d['mail_kb']} KB | |",
    ]


def idle_table(figures: dict[str, Any]) -> list[str]:
    idle, busy = figures["idle_pct_of_core"], figures["busy_pct_of_core"]
    rows = [f"| {name} | {idle[name]} | {busy.get(name)} |" for name in idle if name != "total"]
    return [
        "",
        f"CPU of the whole stack, % of one core over {figures['seconds']:.0f} s:",
        "",
        f"| process | idle (nothing uploading, no hook) | busy ({figures['busy_calls_per_s']} calls/s, same run) |",
        "|---|---|---|",
        *rows,
        f"| **total** | **{idle['total']}** | **{busy['total']}** |",
    ]


def console_table(figures: dict[str, Any]) -> list[str]:
    s = figures["shell"]
    rows = [
        f"| {page} | p95 {f['page']['p95_ms']} ms, p50 {f['page']['p50_ms']} ms, "
        f"max {f['page']['max_ms']} ms | p95 {f['api_alone']['p95_ms']} ms, "
        f"p50 {f['api_alone']['p50_ms']} ms |"
        for page, f in figures["pages"].items()
    ]
    return [
        "",
        f"Console over the last 30 days of a company with {figures['calls']:,} calls in "
        f"{figures['history_days']} days and {figures['employees']:,} employees "
        f"(Chromium, {figures['repeats']} loads of each page, in turn; "
        f"{figures['shown_calls']:,} calls in the range):",
        "",
        "| page | navigation -> rendered | baseline: its report requests at once from Python |",
        "|---|---|---|",
        *rows,
        f"| a console page without reports (privacy) | p95 {s['p95_ms']} ms, p50 {s['p50_ms']} ms | |",
    ]


def privacy_table(figures: dict[str, Any]) -> list[str]:
    e, a = figures["erasure"], figures["archive"]
    return [
        "",
        f"Privacy (erasure of {e['erased_calls']:,} calls in a company of {e['company_calls']:,}):",
        "",
        "| figure | value | baseline (same run) |",
        "|---|---|---|",
        f"| erasure: the request's write (from then on every read leaves the number out) | {e['request_s']} s | |",
        f"| erasure: request -> the first 180-day summary without it | {e['invisible_s']} s | |",
        f"| 180-day summary with a pending erasure (median of 5) | {e['summary_with_erasure_s']} s | without: {e['summary_without_erasure_s']} s |",
        f"| erasure: 202 -> done (counts, every mutation) | {e['done_s']} s | a mutation of calls deleting nothing {e['noop_mutation_s']} s |",
        f"| company archive of {a['calls']:,} calls from chDB: peak RSS while writing | {a['peak_rss_mb']} MB, {a['growth_mb']} MB of it the archive's ({a['seconds']} s, {a['size_mb']} MB zip) | the same process before writing (chDB open) {a['baseline_rss_mb']} MB |",
    ] + (
        [
            f"| the same archive from a ClickHouse server: peak RSS while writing | {a['server']['peak_rss_mb']} MB ({a['server']['seconds']} s) | the same process before writing {a['server']['baseline_rss_mb']} MB |"
        ]
        if "server" in a
        else []
    )


def hooks_table(figures: dict[str, Any]) -> list[str]:
    rate, latency = figures["rate"], figures["latency"]
    return [
        "",
        "Webhooks:",
        "",
        "| figure | value | baseline (same run) | ratio |",
        "|---|---|---|---|",
        f"| deliveries/s, one worker ({rate['deliveries']:,} to {rate['hooks']} hooks, "
        f"{rate['concurrency']} in flight) | {rate['deliveries_per_s']:,} "
        f"| bare httpx, same bodies, a client per hook {rate['bare_httpx_per_s']:,} "
        f"| {rate['ratio_to_bare']} |",
    ] + [
        f"| 202 -> delivery at {rate} calls/s ({run['delivered']:,} of {run['calls']:,} "
        f"delivered in {run['delivered_span_s']} s of {run['accepted_span_s']} s of uploads) "
        f"| p50 {run['p50_ms']} ms, p99 {run['p99_ms']} ms | | |"
        for rate, run in latency.items()
    ]


def leads_table(leads: dict[str, Any], calls: int) -> list[str]:
    lines = [
        "",
        "Leads:",
        "",
        "| figure | value | baseline (same run) | ratio |",
        "|---|---|---|---|",
    ]
    for database, figures in leads["import"].items():
        if "unavailable" in figures:
            lines.append(f"| import on {database} | not run: {figures['unavailable']} | | |")
            continue
        lines.append(
            f"| import of {figures['rows']:,} CSV rows on {database} "
            f"({figures['created']:,} created, {figures['duplicates']} duplicates skipped) "
            f"| {figures['import_s']} s ({figures['rows_per_s']:,} rows/s) "
            f"| bare bulk insert of the same rows {figures['bare_insert_s']} s "
            f"| {figures['ratio_to_bare_insert']} |"
        )
    listing = leads["list"]
    for name, figures in listing.items():
        if isinstance(figures, dict):
            lines.append(
                f"| {name} ({listing['leads']:,} leads, {calls:,} calls) "
                f"| p50 {figures['p50_ms']} ms, p95 {figures['p95_ms']} ms | | |"
            )
    return lines


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument("--full", action="store_const", const="full", dest="size")
    sizes.add_argument("--tiny", action="store_const", const="tiny", dest="size")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=[
            "pipeline",
            "reports",
            "leads",
            "hooks",
            "privacy",
            "console",
            "idle",
            "digests",
            "changes",
            "replication",
        ],
        help="these parts alone (default: every part)",
    )
    parser.add_argument(
        "--calls",
        type=int,
        help="the reports' generated calls instead of the size's (the issue's 100M: 100000000)",
    )
    parser.add_argument(
        "--employees", type=int, help="the largest company's employees instead of the size's"
    )
    parser.add_argument(
        "--repeats", type=int, help="each report's timed runs instead of the size's (40 in full)"
    )
    parser.add_argument(
        "--dashboard-calls",
        type=int,
        help="the console company's calls instead of the size's (the issue's 50M: 50000000)",
    )
    parser.add_argument(
        "--history-days",
        type=int,
        default=console.DAYS,
        help="the days the console company's calls span; its pages show the last 30",
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results/latest.json"))
    args = parser.parse_args(argv)
    size: str = args.size or "quick"
    shape = replace(
        REPORT_SHAPES[size],
        total_calls=args.calls or REPORT_SHAPES[size].total_calls,
        big_employees=args.employees or REPORT_SHAPES[size].big_employees,
    )
    only: set[str] | None = set(args.only) if args.only else None

    def wanted(*names: str) -> bool:
        return only is None or bool(only & set(names))

    results: dict[str, Any] = {"size": size, "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    with tempfile.TemporaryDirectory(prefix="closecall-bench-") as scratch:
        if wanted("pipeline"):
            results["pipeline"] = pipeline.run(
                Path(scratch) / "pipeline", PIPELINE_SCALES[size], progress
            )
        if wanted("hooks"):
            results["hooks"] = hooks.run(
                Path(scratch) / "hooks", HOOK_EVENTS[size], HOOK_LATENCY_S[size], progress
            )
        if wanted("reports", "leads"):
            progress("reports: generating data and timing every report")
            results["reports"] = reports.run(
                Path(scratch) / "reports",
                shape,
                args.repeats or REPORT_REPEATS[size],
                progress,
                reports=wanted("reports"),
            )
        if wanted("privacy"):
            results["privacy"] = privacy.run(
                Path(scratch) / "privacy", REPORT_SHAPES[size], EXPORT_CALLS[size], progress
            )
        if wanted("console"):
            dashboard = console.dashboard_shape(
                args.dashboard_calls or DASHBOARD_CALLS[size],
                shape.big_employees,
                args.history_days,
            )
            results["console"] = console.run(
                Path(scratch) / "console", dashboard, DASHBOARD_LOADS[size], progress
            )
        if wanted("changes"):
            results["changes"] = changes.run(
                Path(scratch) / "changes", FEED_CALLS[size], FEED_PAGES[size], progress
            )
        if wanted("replication"):
            results["replication"] = replication.run(
                Path(scratch) / "replication",
                REPLICATION_SCALES[size],
                1 if size == "tiny" else 2,
                progress,
            )
        if wanted("idle"):
            results["idle"] = idle.run(Path(scratch), IDLE_SECONDS[size], progress)
        if wanted("digests"):
            digest_shape = replace(
                DIGEST_SHAPES[size], total_calls=args.calls or DIGEST_SHAPES[size].total_calls
            )
            results["digests"] = digests.run(Path(scratch) / "digests", digest_shape, progress)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(table(results))
    print(f"\n(figures written to {args.out})")
    return results


if __name__ == "__main__":
    main()
