"""The closecall services as real subprocesses, configured through CLOSECALL_* variables."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil

from core.clickhouse import connect
from deploy.local_stack import free_port

ROOT = Path(__file__).resolve().parents[2]
CREATE_TOPICS = "from core.settings import get_settings; from core.topics import ensure_topics; ensure_topics(get_settings())"
READ_CHDB = """import json, sys
from core.clickhouse import connect
store = connect(sys.argv[1])
print(json.dumps([store.query(sql) for sql in json.load(sys.stdin)], default=str))
store.close()
"""

OWNER_PASSWORD = "correct horse battery staple"  # of every owner signup() makes


RECONNECTS = re.compile(
    "Unable connect to node|Unable to update metadata|NodeNotReadyError|Connect call failed"
)


class Stack:
    """ingest + worker (+ report API: inside the worker with chDB, its own process otherwise)."""

    def __init__(
        self,
        name: str,
        workdir: Path,
        bootstrap: str,
        clickhouse_url: str,
        database_url: str,
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.workdir = workdir
        self.embedded_api = clickhouse_url.startswith("chdb://")
        self.ingest_port, self.api_port = free_port(), free_port()
        self.worker_metrics_port, self.hooks_metrics_port = free_port(), free_port()
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "CLOSECALL_ENVIRONMENT": "test",
            "CLOSECALL_DATA_DIR": str(workdir),
            "CLOSECALL_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
            "CLOSECALL_DATABASE_URL": database_url,
            "CLOSECALL_CLICKHOUSE_URL": clickhouse_url,
            "CLOSECALL_KAFKA_BOOTSTRAP": bootstrap,
            "CLOSECALL_INGEST_PORT": str(self.ingest_port),
            "CLOSECALL_API_PORT": str(self.api_port),
            "CLOSECALL_WORKER_METRICS_PORT": str(self.worker_metrics_port),
            "CLOSECALL_HOOKS_METRICS_PORT": str(self.hooks_metrics_port),
            "CLOSECALL_TOPIC_CALLS_RAW": f"calls.raw.{name}",
            "CLOSECALL_TOPIC_DEAD_LETTER": f"dead-letter.{name}",
            "CLOSECALL_TOPIC_DEVICE_STATUS": f"device.status.{name}",
            "CLOSECALL_TOPIC_CONTACTS_RAW": f"contacts.raw.{name}",
            "CLOSECALL_TOPIC_CALL_NOTES": f"call.notes.{name}",
            "CLOSECALL_TOPIC_INTEGRATION_EVENTS": f"integration.events.{name}",
            "CLOSECALL_WORKER_GROUP": f"closecall-worker-{name}",
            "CLOSECALL_FLUSH_INTERVAL_MS": "200",
            # a test waits on each idle spell's first records: a quarter of the default pause
            "CLOSECALL_FETCH_IDLE_PAUSE_MAX_MS": "250",
            "CLOSECALL_KAFKA_ACK_TIMEOUT_MS": "3000",
            "CLOSECALL_LOG_LEVEL": "info",
            "CLOSECALL_SIGNUP_BURST": "100000",  # every test signs up from 127.0.0.1
            # digests go at 08:00 in a company's zone: a stack's mail would depend on the hour
            # the suite runs at (tests/test_digests_e2e.py turns them on with its own clock)
            "CLOSECALL_DIGESTS_ENABLED": "false",
            **(env or {}),
        }
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.api = httpx.Client(base_url=f"http://127.0.0.1:{self.api_port}", timeout=30)
        self.ingest = httpx.Client(base_url=f"http://127.0.0.1:{self.ingest_port}", timeout=30)

    def run(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "deploy.cli", *args], env=self.env, check=True, cwd=self.workdir
        )

    def output(self, *args: str) -> str:
        """What a `closecall` command prints."""
        done = subprocess.run(
            [sys.executable, "-m", "deploy.cli", *args],
            env=self.env,
            check=True,
            cwd=self.workdir,
            capture_output=True,
            text=True,
        )
        return done.stdout

    def spawn(self, role: str, *args: str, env: dict[str, str] | None = None) -> None:
        log = (self.workdir / f"{role}.log").open("ab")
        self.processes[role] = subprocess.Popen(
            [sys.executable, "-m", "deploy.cli", *args],
            env={**self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
        )

    def log(self, role: str) -> str:
        return (self.workdir / f"{role}.log").read_text(errors="replace")

    def print_logs(self, lines: int = 60) -> None:
        """The last lines of each service's log, without the client's repeated reconnects."""
        for role in sorted(self.processes):
            kept = [line for line in self.log(role).splitlines() if not RECONNECTS.search(line)]
            print(f"--- {role}.log of stack {self.name} (last {lines} lines) ---")
            print("\n".join(kept[-lines:]))

    def wait_ready(self, client: httpx.Client, role: str, timeout_s: float = 90) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            process = self.processes[role]
            if process.poll() is not None:
                raise RuntimeError(f"{role} exited:\n{self.log(role)[-3000:]}")
            try:
                if client.get("/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{role} not ready in {timeout_s} s:\n{self.log(role)[-3000:]}")

    def start(self, migrate: bool = True) -> Stack:
        """Migrated first; or, `migrate=False`, on the stores as they are (an earlier
        release's schema), with only the topics created."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        if migrate:
            self.run("migrate")
        else:
            subprocess.run(
                [sys.executable, "-c", CREATE_TOPICS], env=self.env, check=True, cwd=ROOT
            )
        self.spawn("ingest", "ingest")
        self.start_worker()
        self.wait_ready(self.ingest, "ingest")
        return self

    def start_worker(self) -> None:
        if self.embedded_api:
            self.spawn("worker", "worker", "--with-api")
            self.wait_ready(self.api, "worker")
        else:
            self.spawn("worker", "worker")
            if "api" not in self.processes or self.processes["api"].poll() is not None:
                self.spawn("api", "api")
            self.wait_ready(self.api, "api")

    def kill_worker(self, role: str = "worker") -> None:
        """SIGKILL the worker and its hooks worker (its child) at once: nothing runs down."""
        process = self.processes.pop(role)
        for child in psutil.Process(process.pid).children(recursive=True):
            child.send_signal(signal.SIGKILL)
        process.send_signal(signal.SIGKILL)
        process.wait()

    def stop_worker(self) -> None:
        """SIGTERM the worker (and with chDB the report API in it) and wait until it is gone."""
        process = self.processes.pop("worker")
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        # its consumers stopped in order (a fetch's pause cut short once broke the stop: a
        # traceback per consumer thread, and ~8 s before the process left)
        assert "Exception in thread" not in self.log("worker"), self.log("worker")[-3000:]

    def clickhouse_rows(self, *queries: str) -> list[list[dict[str, Any]]]:
        """What ClickHouse holds: through the server, or (chDB: one process per directory, and
        one directory per process) from a process of its own while the worker is stopped."""
        url = self.env["CLOSECALL_CLICKHOUSE_URL"]
        if not self.embedded_api:
            store = connect(url)
            try:
                return [store.query(sql) for sql in queries]
            finally:
                store.close()
        self.stop_worker()
        try:
            done = subprocess.run(
                [sys.executable, "-c", READ_CHDB, url],
                input=json.dumps(queries),
                env=self.env,
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
            )
        finally:
            self.start_worker()
        rows: list[list[dict[str, Any]]] = json.loads(done.stdout)
        return rows

    def restart(self, env: dict[str, str | None]) -> None:
        """Every process stopped and started again with `env` changed (None: unset)."""
        self.terminate()
        for name, value in env.items():
            if value is None:
                self.env.pop(name, None)
            else:
                self.env[name] = value
        self.processes = {}
        self.spawn("ingest", "ingest")
        self.start_worker()
        self.wait_ready(self.ingest, "ingest")

    def terminate(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()

    def stop(self) -> None:
        self.terminate()
        self.api.close()
        self.ingest.close()

    # --- the product's own flows, as a client would do them -------------------------------

    def signup(self, company: str, country: str = "IN", **extra: Any) -> dict[str, str]:
        body = {
            "company_name": company,
            "country": country,
            "email": f"owner@{company.lower()}.example",
            "password": OWNER_PASSWORD,
            **extra,
        }
        response = self.api.post("/v1/signup", json=body)
        assert response.status_code == 201, response.text
        result: dict[str, str] = response.json()
        return result

    def enrolled_device(self, api_key: str, employee_name: str, hardware_id: str) -> dict[str, Any]:
        auth = {"Authorization": f"Bearer {api_key}"}
        employee = self.api.post("/v1/employees", json={"name": employee_name}, headers=auth).json()
        code = self.api.post(
            f"/v1/employees/{employee['id']}/enrollment-codes", headers=auth
        ).json()
        device = {"device_id": hardware_id, "brand": "Samsung", "model": "A54", "sdk_int": 34}
        response = self.ingest.post(
            "/v1/devices/enroll", json={"code": code["code"], "device": device}
        )
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result


def closecall(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """A `closecall` command run with `env` (on top of this process's), as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", "deploy.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )


def owner_token(stack: Stack, company: str) -> str:
    """A session token of the owner `Stack.signup` made for `company`."""
    email = f"owner@{company.lower()}.example"
    answer = stack.api.post("/v1/auth/login", json={"email": email, "password": OWNER_PASSWORD})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def eventually(check: Callable[[], Any], timeout_s: float = 60, interval_s: float = 0.3) -> Any:
    """Poll `check` until it returns a truthy value; the last value is in the failure message."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval_s)
    raise AssertionError(f"condition not met within {timeout_s} s; last value: {last!r}")
