"""`closecall up`: the whole stack on embedded defaults as child processes, with progress, and a
clean stop of everything it started on Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from deploy.broker import noida_argv
from deploy.runtime import resolve_master_key
from schemas import controlplane
from schemas.settings import Settings
from schemas.topics import ensure_topics

DEMO_EMAIL = "demo@example.com"


class ChildProcess:
    def __init__(self, name: str, argv: list[str], log_dir: Path, env: dict[str, str]) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            argv, stdout=self._log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, grace_s: float = 10.0) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(grace_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def step(message: str) -> float:
    print(f"  - {message} ...", end="", flush=True)
    return time.monotonic()


def done(started: float) -> None:
    print(f" ok ({time.monotonic() - started:.1f} s)", flush=True)


def wait_until(check: Callable[[], bool], child: ChildProcess, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not child.alive():
            raise RuntimeError(
                f"{child.name} exited; its log ({child.log_path}) ends:\n{child.log_tail()}"
            )
        if check():
            return
        time.sleep(0.2)
    raise RuntimeError(f"{child.name} not ready after {timeout_s:.0f} s; see {child.log_path}")


def port_open(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=0.5).close()
        return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def demo_api_key(settings: Settings, api_url: str) -> tuple[str, bool]:
    """The demo company's API key (and whether it is new): created on first start, then read
    from the data directory."""
    path = settings.data_dir / "demo.json"
    if path.exists():
        return str(json.loads(path.read_text())["api_key"]), False
    response = httpx.post(
        f"{api_url}/v1/signup",
        json={
            "company_name": "Demo Sales Co",
            "country": "IN",
            "email": DEMO_EMAIL,
            "password": os.urandom(12).hex(),
            "plan": "basic_lead",
        },
        timeout=30,
    )
    response.raise_for_status()
    path.write_text(json.dumps(response.json()))
    path.chmod(0o600)
    return str(response.json()["api_key"]), True


def run_local_stack(settings: Settings, fleet_size: int) -> None:
    data_dir = settings.data_dir.resolve()
    log_dir = data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "CLOSECALL_ENVIRONMENT": "local", "CLOSECALL_DATA_DIR": str(data_dir)}
    host, _, port = settings.kafka_bootstrap.rpartition(":")
    api_url = f"http://{settings.api_host}:{settings.api_port}"
    ingest_url = f"http://{settings.ingest_host}:{settings.ingest_port}"
    closecall = [sys.executable, "-m", "deploy.cli"]
    children: list[ChildProcess] = []
    failed = False
    print(f"closecall local stack (data in {data_dir})", flush=True)
    try:
        started = step(f"Kafka-protocol broker (noida-db) on {settings.kafka_bootstrap}")
        if port_open(host, int(port)):
            raise RuntimeError(
                f"port {port} is taken; stop what uses it or set CLOSECALL_KAFKA_BOOTSTRAP"
            )
        children.append(
            ChildProcess("broker", noida_argv(data_dir / "kafka", host, int(port)), log_dir, env)
        )
        wait_until(lambda: port_open(host, int(port)), children[-1], 30)
        done(started)

        started = step("master key, control-plane migrations (SQLite), topics")
        resolve_master_key(settings)
        controlplane.migrate(controlplane.make_engine(settings.database_url))
        ensure_topics(settings)
        done(started)

        started = step(f"ingest on {ingest_url}")
        children.append(ChildProcess("ingest", [*closecall, "ingest"], log_dir, env))
        wait_until(lambda: http_ok(f"{ingest_url}/healthz"), children[-1], 60)
        done(started)

        started = step(f"worker with chDB and the report API on {api_url}")
        children.append(ChildProcess("worker", [*closecall, "worker", "--with-api"], log_dir, env))
        wait_until(lambda: http_ok(f"{api_url}/readyz"), children[-1], 120)
        done(started)

        api_key, new_company = demo_api_key(settings, api_url)
        if fleet_size:
            # a new demo company gets three past days of calls so the reports have content
            backfill = "3" if new_company else "0"
            started = step(f"simulated fleet of {fleet_size} phones")
            children.append(
                ChildProcess(
                    "fleet",
                    [
                        *closecall,
                        "fleet",
                        "--phones",
                        str(fleet_size),
                        "--api-key",
                        api_key,
                        "--backfill-days",
                        backfill,
                    ],
                    log_dir,
                    env,
                )
            )
            done(started)

        print(
            f"\nReady.\n  ingest (phones):  {ingest_url}/docs\n  report API:       {api_url}/docs\n"
            f"  demo API key:     {api_key}\n  try:  curl -H 'Authorization: Bearer {api_key}' "
            f"{api_url}/v1/reports/summary\n  logs: {log_dir}\nCtrl-C stops everything.",
            flush=True,
        )
        while all(child.alive() for child in children):
            time.sleep(1)
        dead = next(child for child in children if not child.alive())
        print(f"\n{dead.name} exited; its log ends:\n{dead.log_tail()}", file=sys.stderr)
        failed = True
    except KeyboardInterrupt:
        print("\nstopping ...", flush=True)
    except (RuntimeError, httpx.HTTPError) as exc:
        print(f"\nfailed: {exc}", file=sys.stderr)
        failed = True
    finally:
        for child in reversed(children):
            child.stop()
        print("stopped.", flush=True)
    if failed:
        sys.exit(1)
