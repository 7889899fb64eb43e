"""Load from `wrk` (Debian's, C, on one thread) with bench/ingest_load.lua: every upload of a
requests file sent once over many connections, each with its device's token. The run ends when
the server's own metrics count every request answered (wrk only stops on a duration or SIGINT),
so the rate is that of the server, not of a Python client. A py-spy profile of the server can be
taken meanwhile."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

LUA = Path(__file__).with_name("ingest_load.lua")
ROUTE = "/v1/calls"
POLL_S = 0.05
# What the profile's samples are attributed to: the first of these in a stack, innermost first
PHASES = (
    ("validate_calls", "validating calls (pydantic)"),
    ("kafka_record", "serialising events"),
    ("send_all", "producing (waiting for the broker's ack)"),
    ("_bridge", "producing (waiting for the broker's ack)"),
    ("kafka/", "kafka-python's sender thread"),
    ("read_json_body", "reading and parsing the body"),
    ("current_device", "authenticating the device"),
    ("limit_rate", "rate limiting"),
    ("metrics.py", "request metrics"),
    ("http_policy.py", "security headers"),
    ("starlette/", "Starlette/FastAPI routing and responses"),
    ("fastapi/", "Starlette/FastAPI routing and responses"),
    ("uvicorn/", "uvicorn (HTTP parsing, transport)"),
    ("asyncio/", "the event loop"),
)


def write_requests(path: Path, uploads: Iterable[tuple[str, list[dict[str, Any]]]]) -> int:
    """One line per upload, `token<TAB>body`; the number of lines."""
    count = 0
    with path.open("w") as out:
        for token, calls in uploads:
            out.write(f"{token}\t{json.dumps({'calls': calls}, separators=(',', ':'))}\n")
            count += 1
    return count


def counted(url: str, family: str) -> list[tuple[dict[str, str], float]]:
    """A counter family of a server's /metrics: (labels, value) of each of its `_total`s."""
    page = httpx.get(f"{url}/metrics", timeout=10).text
    return [
        (sample.labels, sample.value)
        for found in text_string_to_metric_families(page)
        if found.name == family
        for sample in found.samples
        if sample.name.endswith("_total")
    ]


def answered(url: str) -> Counter[str]:
    """Uploads the server answered so far, by status (its closecall_http_requests_total)."""
    return Counter(
        {
            labels["status"]: int(value)
            for labels, value in counted(url, "closecall_http_requests")
            if labels.get("route") == ROUTE and labels.get("method") == "POST"
        }
    )


def profile(pid: int, seconds: int, out: Path) -> subprocess.Popen[bytes] | None:
    """py-spy sampling the server for `seconds` (None when py-spy is not installed)."""
    spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if spy is None:
        return None
    argv = [spy, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "200"]
    argv += ["--format", "raw", "--output", str(out), "--nonblocking", "--threads"]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def phases(raw: Path) -> dict[str, float]:
    """Share of the samples (%) by phase: each stack goes to the first phase its innermost
    frames name (py-spy's raw format: `frame;frame;... count`, outermost first)."""
    shares: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")[::-1]
        samples = int(count)
        total += samples
        phase = next((name for frame in frames for key, name in PHASES if key in frame), "other")
        shares[phase] += samples
    return {name: round(100 * n / total, 1) for name, n in shares.most_common()} if total else {}


def drive(
    url: str,
    requests: Path,
    count: int,
    connections: int = 32,
    profile_pid: int | None = None,
    timeout_s: float = 900,
) -> dict[str, Any]:
    """Every request of the file sent once; the rate, latency and statuses of the run."""
    before = answered(url)
    argv = ["wrk", "-t", "1", "-c", str(connections), "-d", f"{int(timeout_s)}s"]
    argv += ["--timeout", "30s", "-s", str(LUA), url, "--", str(requests), "1"]
    wrk = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    started = time.perf_counter()
    profiler = None
    if profile_pid is not None:
        profiler = profile(profile_pid, 5, requests.with_suffix(".profile"))
    try:
        while sum((statuses := answered(url) - before).values()) < count:
            if wrk.poll() is not None:
                raise RuntimeError(f"wrk exited early: {wrk.communicate()[0][-2000:]}")
            if time.perf_counter() - started > timeout_s:
                raise RuntimeError(f"{url} answered {sum(statuses.values())} of {count} in time")
            time.sleep(POLL_S)
        elapsed = time.perf_counter() - started
    finally:
        wrk.send_signal(signal.SIGINT)
    output = wrk.communicate(timeout=60)[0]
    line = next((ln for ln in output.splitlines() if ln.startswith("WRK ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary: {output[-2000:]}")
    figures: dict[str, Any] = json.loads(line[4:])
    result = {
        "requests": count,
        "elapsed_s": round(elapsed, 2),
        "requests_per_s": round(count / elapsed),
        "statuses": dict(statuses),
        "p50_ms": round(figures["p50_us"] / 1000, 1),
        "p99_ms": round(figures["p99_us"] / 1000, 1),
        "socket_errors": figures["socket_errors"],
    }
    if profiler is not None:
        profiler.wait(30)
        raw = requests.with_suffix(".profile")
        if raw.exists():
            result["profile_pct"] = phases(raw)
            kept = Path(tempfile.gettempdir()) / "closecall-ingest.profile"
            shutil.copy(raw, kept)  # py-spy's raw stacks, for a closer look (flamegraph.pl)
            result["profile_file"] = str(kept)
    return result
