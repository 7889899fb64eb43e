"""The benchmarks run once at tiny scale so they cannot rot (figures are not judged here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from subprocess import STDOUT
from typing import Any

import pytest

from tests.support.stack import ROOT

# two halves side by side (each part starts its own stack and mostly waits on it): half the time
# (measured alone at tiny scale: pipeline 44 s, console 21, idle 26, digests 11; hooks 26,
# reports 17, leads 12, privacy 15, changes 24; replication 35)
HALVES = (
    ("pipeline", "console", "idle", "digests"),
    ("hooks", "reports", "leads", "privacy", "changes", "replication"),
)


@pytest.mark.stack
def test_benchmarks_run_at_tiny_scale(tmp_path: Path) -> None:
    runs = []
    for n, parts in enumerate(HALVES):
        out, log = tmp_path / f"figures-{n}.json", tmp_path / f"bench-{n}.log"
        command = [sys.executable, "-m", "bench", "--tiny", "--out", str(out), "--only", *parts]
        with log.open("w") as sink:  # a file, not a pipe: neither run waits on the other's reader
            runs.append((out, log, subprocess.Popen(command, cwd=ROOT, stdout=sink, stderr=STDOUT)))
    figures: dict[str, Any] = {}
    printed = ""
    for out, log, run in runs:
        assert run.wait(timeout=600) == 0, log.read_text()[-3000:]
        figures.update(json.loads(out.read_text()))
        printed += log.read_text()
    hooks = figures["hooks"]
    assert hooks["rate"]["deliveries_per_s"] > 0 and set(hooks["latency"]) == {"500", "200"}
    pipeline = figures["pipeline"]
    assert pipeline["ingest"]["accepted"] == pipeline["ingest"]["calls"] == 400
    assert pipeline["ingest"]["raw_produce_calls_per_s"] > 0
    assert (
        pipeline["worker"]["insert_rows_per_s"] > 0
        and pipeline["worker"]["transform_rows_per_s"] > 0
    )
    assert pipeline["freshness"]["probes"] > 0
    assert set(pipeline["peak_rss_mb"]) == {"ingest", "floor", "worker"}
    floor = pipeline["ingest"]["floor"]
    assert floor["statuses"] == {"202": 4 * 5} and floor["calls_per_s"] > 0  # each of 4, 5 times
    assert set(figures["reports"]["ranges"]) == {"30d", "180d"}
    privacy = figures["privacy"]
    assert privacy["erasure"]["counts"]["calls"] == privacy["erasure"]["erased_calls"] > 0
    assert privacy["archive"]["calls"] == 5_000 and privacy["archive"]["growth_mb"] >= 0
    assert "| ingest, accepted calls/s (wrk, 32 connections) |" in printed
    console = figures["console"]
    assert 0 < console["shown_calls"] <= 20_000 and console["dashboard"]["p50_ms"] > 0
    assert set(console["pages"]) >= {"dashboard", "never-attended", "calls", "working-hours"}
    assert all(
        f["page"]["p95_ms"] > 0 < f["api_alone"]["p95_ms"] for f in console["pages"].values()
    )
    assert "| page | navigation -> rendered |" in printed
    idle = figures["idle"]
    assert set(idle["idle_pct_of_core"]) == {"broker", "ingest", "worker", "total"}
    assert idle["busy_calls_taken"] > 0 and idle["busy_pct_of_core"]["total"] > 0
    assert "| **total** |" in printed
    digests = figures["digests"]
    assert (
        digests["recipients"] == 21 and digests["digests_per_s"] > 0 < digests["report_reads_per_s"]
    )
    assert "| digests computed, rendered, queued and handed to SMTP, per s |" in printed
    changes = figures["changes"]
    assert changes["calls"] == 20_000 and changes["pages"] == 5
    assert changes["feed_calls_per_s"] > 0 < changes["raw_rows_per_s"]
    assert changes["first_page_ms"]["p50"] > 0 < changes["last_page_ms"]["p50"]
    replicated = figures["replication"]
    assert replicated["calls"] == 400 and set(replicated["calls_per_s"]) == {"single", "pair"}
    assert "| worker, stored calls/s into two 18.16 replicas" in printed
