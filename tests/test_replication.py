"""Replicated ClickHouse (deploy/README.md "Replication"): two Debian clickhouse-server 18.16
replicas of one shard with Debian's ZooKeeper, the migrations run with CLOSECALL_CLICKHOUSE_
REPLICATION_PATH, and the services' Distributed tables over the pair."""

from __future__ import annotations

import pytest

from core.clickhouse import ClickHouse, Replication, ServerClickHouse, connect, migrate
from core.clickhouse_shards import distribute, mutation_targets
from tests.conftest import StackFactory
from tests.support.services import Broker, ClickHouseServer, ReplicatedPair
from tests.support.stack import eventually
from tests.test_faults import enrolled, wire_calls
from tests.test_pipeline_e2e import upload

SHARD_DB = "shard"


@pytest.fixture(scope="module")
def pair(replicated_pair: ReplicatedPair) -> ReplicatedPair:
    """The pair migrated (database `shard`), the services' Distributed tables over it on the
    first replica (database `services`)."""
    pair = replicated_pair
    replication = Replication(pair.path, "closecall")
    first = connect(pair.first.url(SHARD_DB))
    applied = migrate(first, replication=replication)
    assert applied and migrate(first, replication=replication) == []
    first.close()
    services = connect(pair.first.url("services"))
    distribute(services, "closecall", SHARD_DB)
    services.close()
    return pair


def shard(server: ClickHouseServer) -> ClickHouse:
    return connect(server.url(SHARD_DB))


def tables(store: ClickHouse) -> dict[str, str]:
    rows = store.query(
        "SELECT name, engine FROM system.tables WHERE database = currentDatabase()"
        " AND engine LIKE '%%MergeTree'"
    )
    return {row["name"]: row["engine"] for row in rows}


def holdings(store: ClickHouse) -> dict[str, int]:
    """Rows of each table, at their latest versions where the table replaces them."""
    return {
        name: int(
            store.query(
                f"SELECT count() AS n FROM {name}{' FINAL' if 'Replacing' in engine else ''}"
            )[0]["n"]
        )
        for name, engine in tables(store).items()
    }


def test_both_replicas_take_the_migrations_with_replicated_engines(pair: ReplicatedPair) -> None:
    first, second = shard(pair.first), shard(pair.second)
    try:
        ours = tables(first)
        assert ours == tables(second)
        assert {e for name, e in ours.items() if name != "schema_migrations"} == {
            "ReplicatedReplacingMergeTree",
            "ReplicatedMergeTree",
        }
        assert ours["schema_migrations"] == "MergeTree"  # each replica's own record
        applied = "SELECT version FROM schema_migrations ORDER BY version"
        assert first.query(applied) == second.query(applied) and first.query(applied)
        views = (
            "SELECT name FROM system.tables WHERE database = currentDatabase()"
            " AND engine = 'MaterializedView' ORDER BY name"
        )
        assert first.query(views) == second.query(views) and first.query(views)
        # one replica of the shard runs an erasure's mutation: the other takes it from it
        services = connect(pair.first.url("services"))
        targets = mutation_targets(services)
        assert len(targets) == 1 and isinstance(targets[0], ServerClickHouse)
        assert (targets[0].address, targets[0].database) == (
            ("127.0.0.1", pair.first.tcp_port),
            SHARD_DB,
        )
        services.close()
    finally:
        first.close()
        second.close()


def test_the_worker_loses_nothing_while_a_replica_is_stopped(
    pair: ReplicatedPair, make_stack: StackFactory, broker: Broker, postgres_url: str
) -> None:
    stack = make_stack(broker.bootstrap, pair.first.url("services"), postgres_url)
    _key, token = enrolled(stack, "Replicated")
    first, second = shard(pair.first), shard(pair.second)
    stored = "SELECT count() AS n FROM calls FINAL"
    try:
        assert upload(stack, token, wire_calls(150, "r1-")).status_code == 202
        eventually(lambda: second.query(stored)[0]["n"] == 150)
        assert upload(stack, token, wire_calls(150, "r2-")).status_code == 202
        pair.second.stop()  # while the worker stores the second batch
        assert upload(stack, token, wire_calls(150, "r3-")).status_code == 202
        eventually(lambda: first.query(stored)[0]["n"] == 450, timeout_s=120)
        pair.second.start()
        eventually(lambda: holdings(second) == holdings(first), timeout_s=120)
        assert holdings(second)["calls"] == 450
        assert holdings(second)["call_days"] > 0  # the views' tables replicated too
    finally:
        first.close()
        second.close()
