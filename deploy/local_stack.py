"""`closecall up`: the whole stack on embedded defaults as child processes, with progress, and a
clean stop of everything it started on Ctrl-C, SIGTERM or SIGHUP. Children also die with the
supervisor when it is killed (Linux's parent-death signal), so no orphan keeps a port."""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import httpx
import psutil

from core import controlplane
from core.settings import Settings
from core.topics import ensure_topics
from deploy.broker import noida_argv
from deploy.runtime import resolve_master_key

DEMO_EMAIL = "demo@example.com"
DEMO_STALE_AFTER_S = 900


PR_SET_PDEATHSIG = 1  # prctl(2)


class Shutdown(Exception):
    """SIGTERM or SIGHUP (or SIGINT) reached the supervisor: stop everything it started."""


def _stop_on_signal(signum: int, _frame: FrameType | None) -> None:
    raise Shutdown(signal.Signals(signum).name)


def die_with_parent(parent_pid: int) -> Callable[[], None]:
    """For a child: the kernel sends it SIGTERM when the supervisor dies, even by SIGKILL."""

    def set_up() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent_pid:  # the supervisor died before prctl took effect
            os._exit(1)

    return set_up


class ChildProcess:
    def __init__(self, name: str, argv: list[str], log_dir: Path, env: dict[str, str]) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("ab")
        # its own session: a Ctrl-C in the terminal reaches the supervisor only, which stops
        # the children in order
        self.process = subprocess.Popen(
            argv,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            preexec_fn=die_with_parent(os.getpid()),
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


def listener_pid(port: int) -> int | None:
    """The process listening on a TCP port of this machine, if any and if we may see it: psutil
    names no pid for another user's socket, or for one opened while it was reading /proc."""
    try:
        connections = psutil.net_connections(kind="inet")
    except psutil.AccessDenied:
        return None
    for conn in connections:
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
            return None if conn.pid is None else int(conn.pid)
    return None


def listens_on(pid: int, port: int) -> bool:
    """Whether this process itself holds a listening socket on the port (read from its own file
    descriptors, so a socket it opened a moment ago is never missed)."""
    try:
        connections = psutil.Process(pid).net_connections(kind="inet")
    except psutil.Error:
        return False
    return any(
        conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port
        for conn in connections
    )


def port_holder(port: int) -> str:
    pid = listener_pid(port)
    if pid is None:
        return "another process"
    try:
        process = psutil.Process(pid)
        return f"process {pid} ({' '.join(process.cmdline())[:120] or process.name()})"
    except psutil.Error:
        return f"process {pid}"


def check_ports_free(ports: dict[str, tuple[str, int]]) -> None:
    """Every port the stack will listen on, checked before anything starts."""
    for what, (host, port) in ports.items():
        if port_open(host, port):
            raise RuntimeError(
                f"port {port} ({what}) is taken by {port_holder(port)}: stop it, or set "
                f"{PORT_SETTINGS[what]} to another port"
            )


PORT_SETTINGS = {
    "broker": "CLOSECALL_KAFKA_BOOTSTRAP",
    "ingest": "CLOSECALL_INGEST_PORT",
    "report API": "CLOSECALL_API_PORT",
}


def served_by(child: ChildProcess, port: int, check: Callable[[], bool]) -> Callable[[], bool]:
    """Ready only when the answer comes from this child: an orphan of an earlier run on the same
    port is not our service."""
    return lambda: listens_on(child.process.pid, port) and check()


def secure_data_dir(data_dir: Path) -> None:
    """The data directory holds plaintext numbers (the broker's raw topics) and keys: 0700 for
    directories and 0600 for files, also for a directory an earlier version created."""
    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o700)
    for root, dirs, names in os.walk(data_dir):
        for name in dirs:
            (Path(root) / name).chmod(0o700)
        for name in names:
            path = Path(root) / name
            if not path.is_symlink():
                path.chmod(0o600 | (path.stat().st_mode & 0o100))


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


def demo_company(settings: Settings, api_url: str) -> tuple[dict[str, str], bool]:
    """The demo company's API key and its owner's console sign-in (and whether it is new):
    created on first start, then read from the data directory (mode 600)."""
    path = settings.data_dir / "demo.json"
    if path.exists():
        return json.loads(path.read_text()), False
    password = os.urandom(12).hex()
    response = httpx.post(
        f"{api_url}/v1/signup",
        json={
            "company_name": "Demo Sales Co",
            "country": "IN",
            "email": DEMO_EMAIL,
            "password": password,
            "plan": "basic_lead",
        },
        timeout=30,
    )
    response.raise_for_status()
    demo = {**response.json(), "email": DEMO_EMAIL, "password": password}
    # the demo's quiet phone (deploy/fleet.py DEMO) shows as stale 15 minutes after the start
    httpx.patch(
        f"{api_url}/v1/company",
        json={"stale_after_s": DEMO_STALE_AFTER_S},
        headers={"Authorization": f"Bearer {demo['api_key']}"},
        timeout=30,
    ).raise_for_status()
    path.write_text(json.dumps(demo))
    path.chmod(0o600)
    return demo, True


def closecall(*args: str) -> list[str]:
    """The argv of a `closecall` command in this interpreter."""
    return [sys.executable, "-m", "deploy.cli", *args]


class LocalStack:
    """The children of one `closecall up`, started in order, each waited for until it serves."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.data_dir = settings.data_dir.resolve()
        self.log_dir = self.data_dir / "logs"
        self.env = {
            **os.environ,
            "CLOSECALL_ENVIRONMENT": "local",
            "CLOSECALL_DATA_DIR": str(self.data_dir),
        }
        self.api_url = f"http://{settings.api_host}:{settings.api_port}"
        self.ingest_url = f"http://{settings.ingest_host}:{settings.ingest_port}"
        self.children: list[ChildProcess] = []

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> ChildProcess:
        child = ChildProcess(name, argv, self.log_dir, env or self.env)
        self.children.append(child)
        return child

    def start_services(self) -> None:
        settings = self.settings
        host, _, port = settings.kafka_bootstrap.rpartition(":")
        check_ports_free(
            {
                "broker": (host, int(port)),
                "ingest": (settings.ingest_host, settings.ingest_port),
                "report API": (settings.api_host, settings.api_port),
            }
        )
        started = step(f"Kafka-protocol broker (noida-db) on {settings.kafka_bootstrap}")
        broker = self.start("broker", noida_argv(self.data_dir / "kafka", host, int(port)))
        wait_until(served_by(broker, int(port), lambda: port_open(host, int(port))), broker, 30)
        done(started)

        started = step("master key, control-plane migrations (SQLite), topics")
        resolve_master_key(settings)
        controlplane.migrate(controlplane.make_engine(settings.database_url))
        ensure_topics(settings)
        done(started)

        started = step(f"ingest on {self.ingest_url}")
        ingest = self.start("ingest", closecall("ingest"))
        healthz = f"{self.ingest_url}/healthz"
        wait_until(served_by(ingest, settings.ingest_port, lambda: http_ok(healthz)), ingest, 60)
        done(started)

        started = step(f"worker with chDB and the report API on {self.api_url}")
        worker = self.start("worker", closecall("worker", "--with-api"))
        readyz = f"{self.api_url}/readyz"
        wait_until(served_by(worker, settings.api_port, lambda: http_ok(readyz)), worker, 120)
        done(started)

    def start_fleet(self, fleet_size: int, api_key: str, new_company: bool) -> None:
        # a new demo company gets a week of history so every page's default range has content
        backfill = "7" if new_company else "0"
        started = step(f"simulated fleet of {fleet_size} phones")
        argv = closecall("fleet", "--phones", str(fleet_size), "--backfill-days", backfill)
        # the key in the environment, not in argv: `ps` shows argv
        self.start("fleet", argv, {**self.env, "CLOSECALL_FLEET_API_KEY": api_key})
        done(started)

    def print_ready(self, demo: dict[str, str]) -> None:
        settings, api_url, api_key = self.settings, self.api_url, demo["api_key"]
        print(
            f"\nReady.\n  console:          {api_url}/console/\n"
            f"  sign in as:       {demo.get('email', DEMO_EMAIL)} / "
            f"{demo.get('password', '(set before passwords were kept: make clean)')}\n"
            f"  ingest (phones):  {self.ingest_url}/docs\n  report API:       {api_url}/docs\n"
            f"  metrics:          {self.ingest_url}/metrics, {api_url}/metrics (with the worker's),"
            f" http://{settings.metrics_host}:{settings.hooks_metrics_port}/metrics (webhooks)\n"
            f"  demo API key:     {api_key}\n  try:  curl -H 'Authorization: Bearer {api_key}' "
            f"{api_url}/v1/reports/summary\n  logs: {self.log_dir}\n"
            "Ctrl-C (or SIGTERM) stops everything.",
            flush=True,
        )

    def wait_for_a_death(self) -> ChildProcess:
        while all(child.alive() for child in self.children):
            time.sleep(1)
        return next(child for child in self.children if not child.alive())

    def stop(self) -> None:
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)  # a second signal must not cut the stop short
        for child in reversed(self.children):
            child.stop()
        print("stopped.", flush=True)


# also SIGINT: a shell starting us in the background ignores it, and we inherit that
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def run_local_stack(settings: Settings, fleet_size: int) -> None:
    stack = LocalStack(settings)
    secure_data_dir(stack.data_dir)
    stack.log_dir.mkdir(exist_ok=True)
    for signum in STOP_SIGNALS:
        signal.signal(signum, _stop_on_signal)
    print(f"closecall local stack (data in {stack.data_dir})", flush=True)
    failed = True
    try:
        stack.start_services()
        demo, new_company = demo_company(settings, stack.api_url)
        if fleet_size:
            stack.start_fleet(fleet_size, demo["api_key"], new_company)
        stack.print_ready(demo)
        dead = stack.wait_for_a_death()
        print(f"\n{dead.name} exited; its log ends:\n{dead.log_tail()}", file=sys.stderr)
    except Shutdown as received:
        print(f"\nstopping ({received}) ...", flush=True)
        failed = False
    except (RuntimeError, httpx.HTTPError) as exc:
        print(f"\nfailed: {exc}", file=sys.stderr)
    finally:
        stack.stop()
    if failed:
        sys.exit(1)
