"""ClickHouse sharded by company, on the engine's own `Distributed` tables: every shard holds
the product's tables (migrated as usual, in the shard database), and the node the services talk
to holds, under the same names, one `Distributed` table over each, sharded by
`cityHash64(company_id)`. So every row of one company is on one shard, the services' SQL runs
unchanged, and each shard answers for its companies (deploy/README.md "Sharding").

The query node's settings profile must set `distributed_product_mode = 'local'` (a subquery
reads the shard's own table: right, since a company never spans shards) and
`insert_distributed_sync = 1` (an insert returns once the shards have the rows, so the worker
commits its offsets only then).

ClickHouse runs no mutation through a Distributed table: `ALTER TABLE ... DELETE` (erasures,
retention, purges, a lead's released numbers) goes to each shard's tables instead
(`mutation_targets`), where a company's rows are: to one replica of each shard when the tables
are replicated (the replicas pass it on), else to every server of the cluster."""

from __future__ import annotations

import logging
import re
import threading

from core.clickhouse import ClickHouse, ServerClickHouse

log = logging.getLogger(__name__)
SHARDING_KEY = "cityHash64(company_id)"
BOOKKEEPING = "schema_migrations"
_DISTRIBUTED = re.compile(r"Distributed\(\s*'?(\w+)'?\s*,\s*'?(\w+)'?")
_targets: dict[str, list[ClickHouse]] = {}
_targets_lock = threading.Lock()


def distribute(query_node: ClickHouse, cluster: str, shard_database: str) -> list[str]:
    """On the query node (itself a shard holding `shard_database`): a Distributed table per
    table of the shards, and the shards' migration record, so `migrate` finds nothing to do
    here. Run again after migrating the shards. The tables distributed."""
    tables = [
        row["name"]
        for row in query_node.query(
            "SELECT name FROM system.tables WHERE database = %(db)s AND engine LIKE '%%MergeTree'"
            " ORDER BY name",
            {"db": shard_database},
        )
        if row["name"] != BOOKKEEPING
    ]
    for table in tables:
        query_node.execute(f"DROP TABLE IF EXISTS {table}")
        query_node.execute(
            f"CREATE TABLE {table} AS {shard_database}.{table} ENGINE = Distributed("
            f"{cluster}, {shard_database}, {table}, {SHARDING_KEY})"
        )
    query_node.execute(f"DROP TABLE IF EXISTS {BOOKKEEPING}")
    query_node.execute(f"CREATE TABLE {BOOKKEEPING} AS {shard_database}.{BOOKKEEPING}")
    query_node.execute(f"INSERT INTO {BOOKKEEPING} SELECT * FROM {shard_database}.{BOOKKEEPING}")
    log.info("clickhouse: %d tables distributed over cluster %s", len(tables), cluster)
    return tables


def mutation_targets(clickhouse: ClickHouse) -> list[ClickHouse]:
    """Where an `ALTER TABLE ... DELETE` runs: the store itself, or, when its tables are
    Distributed, each shard's database (found in the cluster's configuration, kept)."""
    if not isinstance(clickhouse, ServerClickHouse):
        return [clickhouse]
    with _targets_lock:
        if clickhouse.url not in _targets:
            _targets[clickhouse.url] = _shards_of(clickhouse)
        return _targets[clickhouse.url]


def _shards_of(clickhouse: ServerClickHouse) -> list[ClickHouse]:
    found = clickhouse.query(
        "SELECT engine_full FROM system.tables WHERE database = currentDatabase()"
        " AND name = 'calls'"
    )
    match = _DISTRIBUTED.match(found[0]["engine_full"]) if found else None
    if match is None:
        return [clickhouse]
    cluster, database = match.groups()
    hosts = clickhouse.query(
        "SELECT shard_num, host_address, port FROM system.clusters WHERE cluster = %(c)s"
        " ORDER BY shard_num, replica_num",
        {"c": cluster},
    )
    targets = {
        (h["shard_num"], h["host_address"], h["port"]): clickhouse.at(
            h["host_address"], int(h["port"]), database
        )
        for h in hosts
    }
    first = next(iter(targets.values()))
    engine = first.query(
        "SELECT engine FROM system.tables WHERE database = currentDatabase() AND name = 'calls'"
    )
    if engine and engine[0]["engine"].startswith("Replicated"):
        # a shard's replicas pass a mutation on to each other: one of each shard runs it
        one_each: dict[int, ClickHouse] = {}
        for (shard, _host, _port), target in targets.items():
            one_each.setdefault(shard, target)
        return list(one_each.values())
    return list(targets.values())
