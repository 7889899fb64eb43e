"""Each service as a process: ingest, the report API, the worker (with the API in local mode)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import signal as signal_module
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import faust
import uvicorn
from fastapi import FastAPI

from api.app import create_app as create_api_app
from api.context import ApiContext
from core import clickhouse, controlplane
from core.devices.push import SyncPusher, pusher_from_settings
from core.metrics import serve_port
from core.settings import Settings
from core.topics import ensure_topics
from deploy.local_stack import die_with_parent
from deploy.runtime import resolve_master_key
from ingest.app import create_app as create_ingest_app
from streams.hooks.worker import create_hooks_worker
from streams.worker import create_worker

log = logging.getLogger(__name__)


def migrate(settings: Settings, contract: bool = False) -> None:
    """Control-plane and ClickHouse migrations (contract ones only with `contract`), and the
    Kafka topics."""
    controlplane.migrate(controlplane.make_engine(settings.database_url), contract=contract)
    store = clickhouse.connect(settings.clickhouse_url)
    replication = (
        clickhouse.Replication(settings.clickhouse_replication_path, settings.clickhouse_cluster)
        if settings.clickhouse_replication_path
        else None
    )
    try:
        clickhouse.migrate(store, replication=replication, contract=contract)
    finally:
        store.close()
    ensure_topics(settings)


def migration_plan(settings: Settings) -> list[str]:
    """What `migrate` would do, changing nothing but the bookkeeping tables it creates."""
    store = clickhouse.connect(settings.clickhouse_url)
    try:
        stores = {
            "control plane": controlplane.pending(controlplane.make_engine(settings.database_url)),
            "ClickHouse": clickhouse.pending(store),
        }
    finally:
        store.close()
    lines = []
    for where, migrations in stores.items():
        lines.append(f"{where}: {len(migrations) or 'no'} migration(s) to apply")
        lines += [line for migration in migrations for line in migration.plan()]
    topics = ensure_topics(settings, create=False)
    lines.append(f"Kafka: {len(topics) or 'no'} topic(s) to create {', '.join(topics)}".rstrip())
    return lines


def api_context(
    settings: Settings, store: clickhouse.ClickHouse, pusher: SyncPusher, in_worker: bool = False
) -> ApiContext:
    return ApiContext(
        settings=settings,
        engine=controlplane.make_engine(settings.database_url),
        clickhouse=store,
        master_key=resolve_master_key(settings),
        pusher=pusher,
        worker_bootstrap=settings.kafka_bootstrap if in_worker else None,
    )


def serve_http(app: FastAPI, host: str, port: int, settings: Settings) -> None:
    """One uvicorn process (httptools and uvloop: installed, so uvicorn picks them)."""
    CalmServer(http_config(app, host, port, settings)).run()


def http_config(
    app: FastAPI, host: str, port: int, settings: Settings, **more: Any
) -> uvicorn.Config:
    """uvicorn's settings for a service: forwarded headers believed only from the proxies of
    CLOSECALL_TRUSTED_PROXIES (uvicorn's own default trusts 127.0.0.1)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=settings.log_level.replace("warn", "warning"),
        access_log=False,
        server_header=False,
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=settings.trusted_proxies or None,
        **more,
    )


class CalmServer(uvicorn.Server):
    """uvicorn, whose housekeeping loop ticks once a second instead of ten times: it refreshes
    the `Date` header once a second and looks for a shutdown request, and ten wake-ups a
    second were an idle process's largest cost (BENCHMARKS.md "Idle"). A stop is seen within
    a second."""

    async def main_loop(self) -> None:
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 10) % 864000  # uvicorn refreshes the header when % 10 == 0
            await asyncio.sleep(1.0)
            should_exit = await self.on_tick(counter)


def run_ingest(settings: Settings) -> None:
    app = create_ingest_app(settings, resolve_master_key(settings))
    serve_http(app, settings.ingest_host, settings.ingest_port, settings)


def run_api(settings: Settings) -> None:
    """The report API alone: only with a ClickHouse server (chDB belongs to the worker process)."""
    if settings.clickhouse_url.startswith("chdb://"):
        raise SystemExit(
            "the report API cannot open chDB beside the worker; run `closecall worker --with-api` "
            "or set CLOSECALL_CLICKHOUSE_URL=clickhouse://host:9000/db"
        )
    store = clickhouse.connect(settings.clickhouse_url)
    app = create_api_app(api_context(settings, store, pusher_from_settings(settings)))
    serve_http(app, settings.api_host, settings.api_port, settings)


class EmbeddedServer(CalmServer):
    """uvicorn inside another event loop: the host process (faust) owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def embedded_api(settings: Settings, app: FastAPI) -> EmbeddedServer:
    return EmbeddedServer(
        http_config(app, settings.api_host, settings.api_port, settings, lifespan="off")
    )


class BoundedWorker(faust.Worker):
    """faust's worker, but gone within `shutdown_grace_s` of SIGINT/SIGTERM: with the broker
    already down (the local supervisor's children all stop at once when it is killed) stopping
    the consumer waits 60 s for a broker that will not answer. Leaving early is safe: what was
    not committed is read again, and the replacing tables absorb it."""

    shutdown_grace_s = 8.0
    children: tuple[HooksChild, ...] = ()  # stopped with it (the hooks worker)

    def _schedule_shutdown(self, signal: signal.Signals) -> None:
        for child in self.children:
            child.terminate()
        timer = threading.Timer(self.shutdown_grace_s, os._exit, args=(1,))
        timer.daemon = True
        timer.start()
        # the kernel's backstop: a native library deadlocked at exit while holding the GIL
        # (seen rarely with chDB finalizing while a round's thread queried it) keeps the timer
        # above from running; SIGALRM's default action ends the process without Python
        signal_module.signal(signal_module.SIGALRM, signal_module.SIG_DFL)
        signal_module.alarm(int(self.shutdown_grace_s) + 2)
        super()._schedule_shutdown(signal)


def run_hooks(settings: Settings) -> None:
    """The hooks worker: integration events -> delivery log -> signed deliveries."""
    engine = controlplane.make_engine(settings.database_url)
    app = create_hooks_worker(settings, engine, resolve_master_key(settings))
    serve_port(settings.metrics_host, settings.hooks_metrics_port, "CLOSECALL_HOOKS_METRICS_PORT")
    BoundedWorker(app, loglevel=settings.log_level).execute_from_commandline()


class HooksChild:
    """`closecall hooks` as a child of this process, which the kernel stops when this process
    dies, even by SIGKILL (its log goes where this one's goes), and which this process starts
    again whenever it exits: faust ends a worker whose consumer cannot reach the broker while it
    starts, and deliveries must not stop for good because Kafka was down for a moment."""

    max_backoff_s = 30.0

    def __init__(self) -> None:
        self.stopping = threading.Event()
        self.process = self.spawn()
        self.watcher = threading.Thread(target=self.keep_running, daemon=True)
        self.watcher.start()

    def spawn(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "deploy.cli", "hooks"],
            preexec_fn=die_with_parent(os.getpid()),
        )

    def keep_running(self) -> None:
        backoff = 1.0
        while True:
            started = time.monotonic()
            code = self.process.wait()
            if self.stopping.is_set():
                return
            if time.monotonic() - started > 60:
                backoff = 1.0  # it ran a while: a new failure, not the same one again
            log.warning("hooks worker exited (%s); starting it again in %.0f s", code, backoff)
            if self.stopping.wait(backoff):
                return
            backoff = min(backoff * 2, self.max_backoff_s)
            self.process = self.spawn()

    def terminate(self) -> None:
        self.stopping.set()
        self.process.terminate()

    def stop(self, grace_s: float) -> None:
        self.terminate()
        try:
            self.process.wait(grace_s)
        except subprocess.TimeoutExpired:
            self.process.kill()


def run_worker(
    settings: Settings, with_api: bool, with_hooks: bool = True, keep_aggregates: bool = True
) -> None:
    store = clickhouse.connect(settings.clickhouse_url)
    clickhouse.migrate(store)
    ensure_topics(settings)
    engine = controlplane.make_engine(settings.database_url)
    pusher = pusher_from_settings(settings)
    worker_app = create_worker(
        settings, engine, store, resolve_master_key(settings), pusher, keep_aggregates
    )
    if with_api:
        server = embedded_api(
            settings, create_api_app(api_context(settings, store, pusher, in_worker=True))
        )

        @worker_app.task
        async def serve_report_api() -> None:
            await server.serve()

    else:  # with the report API its /metrics is this process's
        serve_port(
            settings.metrics_host, settings.worker_metrics_port, "CLOSECALL_WORKER_METRICS_PORT"
        )

    worker = BoundedWorker(worker_app, loglevel=settings.log_level)
    worker.children = (HooksChild(),) if with_hooks else ()
    try:
        worker.execute_from_commandline()
    finally:
        for child in worker.children:
            child.stop(BoundedWorker.shutdown_grace_s + 2)
