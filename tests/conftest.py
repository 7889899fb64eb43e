"""Fixtures for the real parts: brokers, ClickHouse server, PostgreSQL and service stacks.
Tests that use any of them are marked `stack` automatically: `pytest -m "not stack"` is fast."""

from __future__ import annotations

import uuid
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Protocol

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from api.context import ApiContext
from core.clickhouse import ClickHouse, connect, migrate
from core.clickhouse_shards import distribute
from tests.support.inprocess import api_client
from tests.support.services import Broker, ClickHouseServer, PostgresDatabase, ReplicatedPair
from tests.support.smtp import Inbox, smtp_server
from tests.support.stack import Stack

# Shared 2-core CI machines are noisy: property tests check behaviour, never speed.
settings.register_profile("ci", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci")

STACK_FIXTURES = {
    "server_store",
    "sharded_store",
    "clickhouse_shards",
    "clickhouse_store",
    "report_store",
    "broker",
    "tansu_broker",
    "clickhouse_server",
    "postgres_url",
    "fresh_database_url",
    "mailed",
    "role_stack",
    "chdb_stack",
    "server_stack",
    "make_stack",
    "both_stacks",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if STACK_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.stack)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item,
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keeps each phase's report on the item, so a fixture's teardown knows the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def running_broker(kind: str, factory: pytest.TempPathFactory) -> Iterator[Broker]:
    running = Broker(kind, factory.mktemp(kind))
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    yield from running_broker("noida", tmp_path_factory)


@pytest.fixture(scope="session")
def tansu_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    yield from running_broker("tansu", tmp_path_factory)


@pytest.fixture(scope="session")
def clickhouse_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseServer]:
    server = ClickHouseServer(tmp_path_factory.mktemp("clickhouse-server"))
    server.start()
    yield server
    server.discard()


@pytest.fixture(scope="session")
def chdb_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouse]:
    """The test process's one chDB (chDB allows one data directory per process), migrated."""
    store = connect(f"chdb://{tmp_path_factory.mktemp('chdb') / 'data'}")
    migrate(store)
    yield store
    store.close()


@pytest.fixture(scope="session")
def server_store(clickhouse_server: ClickHouseServer) -> Iterator[ClickHouse]:
    store = connect(clickhouse_server.url("reports"))
    migrate(store)
    yield store
    store.close()


@pytest.fixture(scope="session")
def clickhouse_shards(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ClickHouseServer, ClickHouseServer]]:
    """Two ClickHouse 18.16 servers, one shard each, migrated (database `shard`); the first
    knows both as cluster `closecall` and answers the services' queries."""
    other = ClickHouseServer(tmp_path_factory.mktemp("shard-2"))
    other.start()
    first = ClickHouseServer(
        tmp_path_factory.mktemp("shard-1"),
        shards=[0, other.tcp_port],  # 0: replaced by its own port below
        profile={"distributed_product_mode": "local", "insert_distributed_sync": "1"},
    )
    first.shards[0] = first.tcp_port
    first.start()
    for server in (first, other):
        shard = connect(server.url("shard"))
        migrate(shard)
        shard.close()
    yield first, other
    first.discard()
    other.discard()


@pytest.fixture(scope="session")
def replicated_pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReplicatedPair]:
    """Two ClickHouse 18.16 replicas of one shard (cluster `closecall`) with ZooKeeper."""
    pair = ReplicatedPair(tmp_path_factory.mktemp("replicated"))
    try:
        yield pair.start()
    finally:
        pair.discard()


@pytest.fixture(scope="session")
def sharded_store(
    clickhouse_shards: tuple[ClickHouseServer, ClickHouseServer],
) -> Iterator[ClickHouse]:
    """The query node's database of Distributed tables sharded by company
    (core/clickhouse_shards.py), under the names the services use."""
    store = connect(clickhouse_shards[0].url("reports"))
    distribute(store, "closecall", "shard")
    yield store
    store.close()


@pytest.fixture(params=["chdb", "server", "sharded"])
def clickhouse_store(request: pytest.FixtureRequest) -> ClickHouse:
    """Both ClickHouse backends (embedded, server) and a two-shard cluster: the same SQL must
    do the same."""
    store: ClickHouse = request.getfixturevalue(f"{request.param}_store")
    return store


@pytest.fixture(params=["chdb", "server", "sharded"])
def report_store(request: pytest.FixtureRequest) -> ClickHouse:
    """Report tests run on both ClickHouse backends and on a two-shard cluster: the same SQL
    must give the same answers."""
    store: ClickHouse = request.getfixturevalue(f"{request.param}_store")
    return store


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    database = PostgresDatabase()
    yield database.url
    database.drop()


class StackFactory(Protocol):
    def __call__(
        self,
        bootstrap: str,
        clickhouse_url: str | None = None,
        database_url: str | None = None,
        env: dict[str, str] | None = None,
    ) -> Stack: ...


@pytest.fixture
def make_stack(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[StackFactory]:
    """A factory of stacks that are all stopped when the test ends."""
    started: list[Stack] = []

    def make(
        bootstrap: str,
        clickhouse_url: str | None = None,
        database_url: str | None = None,
        env: dict[str, str] | None = None,
    ) -> Stack:
        name = uuid.uuid4().hex[:8]
        workdir = tmp_path / name
        stack = Stack(
            name,
            workdir,
            bootstrap,
            clickhouse_url or f"chdb://{workdir / 'chdb'}",
            database_url or f"sqlite:///{workdir / 'control.db'}",
            env,
        )
        started.append(stack)
        return stack.start()

    yield make
    failed = getattr(request.node, "report_call", None)
    for stack in started:
        if failed is not None and failed.failed:
            stack.print_logs()  # shown under the failure as the teardown's captured output
        stack.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def inprocess_api(
    request: pytest.FixtureRequest, chdb_store: ClickHouse, tmp_path: Path
) -> Iterator[tuple[TestClient, ApiContext]]:
    """The report API in this process on SQLite, then on a PostgreSQL database of its own (the
    session's is shared: another module's outbox rows would be in it)."""
    database = PostgresDatabase() if request.param == "postgresql" else None
    url = database.url if database else f"sqlite:///{tmp_path / 'control.db'}"
    client, context = api_client(url, chdb_store, tmp_path, allow_private=False)
    with client:
        yield client, context
    context.engine.dispose()
    if database is not None:
        database.drop()


def shared_stack(
    broker: Broker,
    factory: pytest.TempPathFactory,
    env: dict[str, str] | None = None,
    clickhouse_url: str | None = None,
    database_url: str | None = None,
) -> Iterator[Stack]:
    """A stack for a whole module (embedded: chDB, SQLite unless given others); each test uses
    its own company."""
    name = uuid.uuid4().hex[:8]
    workdir = factory.mktemp(f"stack-{name}")
    stack = Stack(
        name,
        workdir,
        broker.bootstrap,
        clickhouse_url or f"chdb://{workdir / 'chdb'}",
        database_url or f"sqlite:///{workdir / 'control.db'}",
        env,
    )
    try:  # a stack that fails to start is stopped too: its processes outlive pytest otherwise
        yield stack.start()
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def module_stack(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from shared_stack(broker, tmp_path_factory)


@pytest.fixture(scope="module", params=["chdb", "server"])
def both_stacks(
    request: pytest.FixtureRequest, broker: Broker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """A module's stack on embedded defaults (chDB, SQLite), then on the production path
    (ClickHouse server, PostgreSQL)."""
    yield from stack_of_param(request, broker, tmp_path_factory)


def stack_of_param(
    request: pytest.FixtureRequest,
    broker: Broker,
    tmp_path_factory: pytest.TempPathFactory,
    env: dict[str, str] | None = None,
) -> Iterator[Stack]:
    """`shared_stack` on chDB + SQLite or ClickHouse server + PostgreSQL, as `request.param`
    says (`chdb` or `server`)."""
    if request.param == "chdb":
        yield from shared_stack(broker, tmp_path_factory, env)
        return
    server: ClickHouseServer = request.getfixturevalue("clickhouse_server")
    postgres: str = request.getfixturevalue("postgres_url")
    database = f"cc_{uuid.uuid4().hex[:8]}"
    yield from shared_stack(broker, tmp_path_factory, env, server.url(database), postgres)


@pytest.fixture
def chdb_stack(make_stack: StackFactory, broker: Broker) -> Stack:
    """Embedded defaults: chDB in the worker process, SQLite control plane."""
    return make_stack(broker.bootstrap)


@pytest.fixture
def server_stack(
    make_stack: StackFactory, broker: Broker, clickhouse_server: ClickHouseServer, postgres_url: str
) -> Stack:
    """Production path: ClickHouse server via clickhouse-driver, PostgreSQL control plane."""
    database = f"cc_{uuid.uuid4().hex[:8]}"
    return make_stack(broker.bootstrap, clickhouse_server.url(database), postgres_url)


@pytest.fixture
def mailed(make_stack: StackFactory, broker: Broker) -> Iterator[tuple[Stack, Inbox]]:
    """A stack whose email goes to a real SMTP server (aiosmtpd) the test reads."""
    with smtp_server() as (url, inbox):
        yield make_stack(broker.bootstrap, env={"CLOSECALL_SMTP_URL": url}), inbox
