"""The services under measurement, as separate processes on this machine, and their RSS."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from deploy.broker import noida_argv
from deploy.local_stack import ChildProcess, free_port, http_ok, port_open, wait_until


@dataclass
class BenchStack:
    workdir: Path
    kafka_port: int = field(default_factory=free_port)
    ingest_port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)
    children: dict[str, ChildProcess] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def ingest_url(self) -> str:
        return f"http://127.0.0.1:{self.ingest_port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "CLOSECALL_ENVIRONMENT": "test",
            "CLOSECALL_DATA_DIR": str(self.workdir),
            "CLOSECALL_MASTER_KEY": base64.b64encode(b"b" * 32).decode(),
            "CLOSECALL_KAFKA_BOOTSTRAP": self.bootstrap,
            "CLOSECALL_INGEST_PORT": str(self.ingest_port),
            "CLOSECALL_API_PORT": str(self.api_port),
            "CLOSECALL_LOG_LEVEL": "warn",
            # a few simulated phones stand for a whole fleet: lift the per-device upload limit
            "CLOSECALL_DEVICE_RATE_PER_S": "10000",
            "CLOSECALL_DEVICE_RATE_BURST": "10000",
            **self.extra_env,
        }

    def migrate(self) -> None:
        subprocess.run(
            [sys.executable, "-m", "deploy.cli", "migrate"],
            env=self.env(),
            check=True,
            capture_output=True,
        )

    def start_broker(self) -> None:
        argv = noida_argv(self.workdir / "kafka", "127.0.0.1", self.kafka_port)
        self.children["broker"] = ChildProcess("broker", argv, self.workdir, self.env())
        wait_until(lambda: port_open("127.0.0.1", self.kafka_port), self.children["broker"], 30)

    def start(self, role: str, *args: str) -> ChildProcess:
        argv = [sys.executable, "-m", "deploy.cli", *args]
        child = self.children[role] = ChildProcess(role, argv, self.workdir, self.env())
        url = self.ingest_url if role == "ingest" else self.api_url
        wait_until(lambda: http_ok(f"{url}/readyz"), child, 120)
        return child

    def stop(self) -> None:
        for child in reversed(list(self.children.values())):
            child.stop()


class PeakRss:
    """Samples the resident set size of processes every 100 ms; keeps each one's peak."""

    def __init__(self) -> None:
        self.peaks_mb: dict[str, float] = {}
        self._watched: dict[str, psutil.Process] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def watch(self, name: str, pid: int) -> None:
        self._watched[name] = psutil.Process(pid)

    def _sample(self) -> None:
        while not self._stop.is_set():
            for name, process in list(self._watched.items()):
                try:
                    rss = process.memory_info().rss / 2**20
                except psutil.Error:
                    continue
                self.peaks_mb[name] = round(max(self.peaks_mb.get(name, 0.0), rss), 1)
            time.sleep(0.1)

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        return self.peaks_mb
