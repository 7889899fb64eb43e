"""`closecall up`: the one-command local stack starts, shows data from its fleet, and Ctrl-C
stops every process it started."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import psutil
import pytest

from deploy.local_stack import free_port
from tests.support.stack import ROOT, eventually

PARTS = ("kafka", "ingest", "api")


@pytest.mark.stack
def test_up_runs_the_stack_with_a_fleet_and_stops_everything(tmp_path: Path) -> None:
    ports = {name: free_port() for name in PARTS}
    up, lines = start_up(tmp_path, ports, fleet=2)
    try:
        assert any("demo API key" in line for line in lines), "".join(lines)
        output = "".join(lines)
        assert "generated a master key into" in output
        children = psutil.Process(up.pid).children(recursive=True)
        assert len(children) >= 4  # broker, ingest, worker, fleet

        demo = json.loads((tmp_path / ".closecall" / "demo.json").read_text())
        assert demo["api_key"] in output
        # the key reaches the fleet through its environment, not a command line `ps` shows
        assert not [c for c in children if demo["api_key"] in " ".join(c.cmdline())]
        auth = {"Authorization": f"Bearer {demo['api_key']}"}
        api = f"http://127.0.0.1:{ports['api']}"
        # a new demo company gets a week of a sales team's days: the console's default range
        # (the last 7 days) shows clients never attended and not picked up, talk time well
        # under working time, two teams and a few leads
        recent = eventually(
            lambda: httpx.get(f"{api}/v1/calls?limit=50", headers=auth).json()["items"], 60
        )
        # the demo's clients are Indian numbers, masked; a private (withheld) number has none
        numbers = [call["number"] for call in recent if call["number"] is not None]
        assert numbers and all(number.startswith("+91") for number in numbers), recent
        week = demo_week(api, auth)
        assert week["never_attended"] > 0 and week["not_picked_up"] > 0, week
        assert 0 < week["talk_time_s"] < week["working_s"] / 2, week
        assert week["unique_clients"] > 200, week
        staff = httpx.get(f"{api}/v1/employees", headers=auth).json()["items"]
        assert sorted((e["name"], e["team"]) for e in staff) == [
            ("Asha Rao", "North"),
            ("Ravi Kumar", "South"),
        ]
        leads = httpx.get(f"{api}/v1/leads", headers=auth).json()["items"]
        assert len(leads) == 12 and all(lead["employee_id"] for lead in leads)
        # the fleet reports device health too
        devices = eventually(
            lambda: [
                d
                for d in httpx.get(f"{api}/v1/devices", headers=auth).json()["items"]
                if d["battery_pct"] is not None and d["location"]
            ],
            60,
        )
        assert devices[0]["stale"] is False
        fleet_log = (tmp_path / ".closecall" / "logs" / "fleet.log").read_text()
        assert "fleet: 2 phones enrolled" in fleet_log and "answered" not in fleet_log
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(60)
    assert all(
        not child.is_running() or child.status() == psutil.STATUS_ZOMBIE for child in children
    )


def demo_week(api: str, auth: dict[str, str]) -> dict[str, int]:
    """The summary of the console's default range once the fleet's week of history is in (the
    total stopped growing for 3 s)."""
    me = httpx.get(f"{api}/v1/me", headers=auth).json()
    today = datetime.now(ZoneInfo(me["company"]["timezone"])).date()
    week = {"from": (today - timedelta(days=6)).isoformat(), "to": today.isoformat()}
    seen: list[int] = []

    def settled() -> dict[str, int] | None:
        summary: dict[str, int] = httpx.get(
            f"{api}/v1/reports/summary", params=week, headers=auth
        ).json()
        seen.append(summary["total_calls"])
        return summary if len(seen) > 1 and seen[-2] == seen[-1] > 300 else None

    return eventually(settled, 90, 3)


def up_env(tmp_path: Path, ports: dict[str, int]) -> dict[str, str]:
    """`closecall up` as a new user runs it: local mode, no master key, on free ports."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "CLOSECALL_DATA_DIR": str(tmp_path / ".closecall"),
        "CLOSECALL_KAFKA_BOOTSTRAP": f"127.0.0.1:{ports['kafka']}",
        "CLOSECALL_INGEST_PORT": str(ports["ingest"]),
        "CLOSECALL_API_PORT": str(ports["api"]),
    }
    env.pop("CLOSECALL_ENVIRONMENT", None)
    env.pop("CLOSECALL_MASTER_KEY", None)
    return env


def start_up(
    tmp_path: Path, ports: dict[str, int], fleet: int = 0
) -> tuple[subprocess.Popen[str], list[str]]:
    """`closecall up` started, and its output up to the demo key (or until it exits)."""
    up = subprocess.Popen(
        [sys.executable, "-m", "deploy.cli", "up", "--fleet", str(fleet)],
        env=up_env(tmp_path, ports),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
        text=True,
        start_new_session=True,  # like a script's background job: no terminal, no Ctrl-C
    )
    lines: list[str] = []
    assert up.stdout is not None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any("demo API key" in line for line in lines):
        line = up.stdout.readline()
        if not line:
            break
        lines.append(line)
    return up, lines


def still_running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:  # gone between the two questions
        return False


def command_of(process: psutil.Process) -> str:
    """How to name a child in a failure message; one that already ended is named by its pid
    (a short-lived child may end between listing the children and asking)."""
    try:
        return " ".join(process.cmdline()[-2:])
    except psutil.Error:
        return f"pid {process.pid} (ended)"


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGKILL)


@pytest.mark.stack
def test_the_supervisor_takes_every_child_with_it(tmp_path: Path) -> None:
    """A stack per signal, started side by side (each mostly waits on its broker and
    services), then each supervisor signalled: SIGTERM and SIGHUP are handled, SIGKILL is not
    and its children go with it all the same."""
    taken: set[int] = set()
    runs = {}
    for signum in SIGNALS:
        ports = {}
        for name in PARTS:  # nine different ports: the kernel may hand one out twice
            while (port := free_port()) in taken:
                pass
            ports[name] = port
            taken.add(port)
        (tmp_path / signum.name).mkdir()
        runs[signum] = (tmp_path / signum.name, ports)
    with ThreadPoolExecutor(len(SIGNALS)) as pool:
        started = dict(
            zip(SIGNALS, pool.map(lambda run: start_up(*run), runs.values()), strict=True)
        )
    try:
        for signum, (up, lines) in started.items():
            stops_every_child(up, lines, *runs[signum], signum)
    finally:
        for up, _lines in started.values():
            if up.poll() is None:
                up.kill()
            up.wait(30)


def stops_every_child(
    up: subprocess.Popen[str],
    lines: list[str],
    home: Path,
    ports: dict[str, int],
    signum: signal.Signals,
) -> None:
    assert any("demo API key" in line for line in lines), f"{signum.name}: {''.join(lines)}"
    children = psutil.Process(up.pid).children(recursive=True)
    assert len(children) >= 3  # broker, ingest, worker
    data = home / ".closecall"
    assert data.stat().st_mode & 0o777 == 0o700
    kept = [p for p in data.rglob("*") if p.is_file()]
    assert any("kafka" in str(p) for p in kept) and (data / "control.db") in kept
    assert all(p.stat().st_mode & 0o077 == 0 for p in kept), "files readable by others"
    names = {c.pid: command_of(c) for c in children}  # before the signal: they exit after
    up.send_signal(signum)
    stopped = time.monotonic()

    def running() -> list[str]:
        alive = [c for c in children if still_running(c)]
        busy = [f"port {port}" for port in ports.values() if not port_free(port)]
        return [names[c.pid] for c in alive] + busy

    while running() and time.monotonic() - stopped < 15:
        time.sleep(0.2)
    assert not running(), signum.name


@pytest.mark.stack
def test_a_taken_port_is_named_before_anything_starts(tmp_path: Path) -> None:
    ports = {name: free_port() for name in PARTS}
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", ports["api"]))
        holder.listen()
        up, lines = start_up(tmp_path, ports)
        up.wait(30)
    output = "".join(lines)
    assert up.returncode == 1
    assert f"port {ports['api']} (report API) is taken by process {os.getpid()}" in output
    assert "CLOSECALL_API_PORT" in output and "broker (noida-db)" not in output
