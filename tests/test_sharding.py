"""ClickHouse sharded by company on two 18.16 servers (core/clickhouse_shards.py): the report
suite runs on it unchanged (`report_store`'s `sharded` case, compared with the same reference as
the single backends); here, where the rows went."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from core.clickhouse import ClickHouse, connect, migrate
from core.clickhouse_shards import distribute
from tests.support.metrics_reference import RefCall
from tests.support.report_data import load
from tests.support.services import ClickHouseServer

DAY = datetime(2026, 5, 4, 9, tzinfo=UTC)


def uploads(rng: random.Random, count: int) -> list[RefCall]:
    return [
        RefCall(
            (f"dev-{n % 3}", f"c{n}"),
            f"e{n % 3}",
            f"+9198{rng.randrange(10**8):08d}",
            rng.choice(["incoming", "outgoing", "missed"]),
            DAY + timedelta(minutes=n),
            rng.randrange(0, 300),
        )
        for n in range(count)
    ]


def test_each_company_lives_on_one_shard_and_reads_whole_through_the_query_node(
    clickhouse_shards: tuple[ClickHouseServer, ClickHouseServer], sharded_store: ClickHouse
) -> None:
    rng = random.Random(7)
    sizes = {load(sharded_store, uploads(rng, n)).company_id: n for n in range(5, 29)}
    held: list[dict[str, int]] = []
    for server in clickhouse_shards:
        shard = connect(server.url("shard"))
        rows = shard.query("SELECT company_id, count() AS n FROM calls FINAL GROUP BY company_id")
        shard.close()
        held.append(
            {row["company_id"]: int(row["n"]) for row in rows if row["company_id"] in sizes}
        )
    first, second = held
    assert first and second, "every company landed on one shard: the sharding key is not used"
    assert not first.keys() & second.keys(), "a company's rows span both shards"
    assert {**first, **second} == sizes  # each company whole, on its shard
    whole = sharded_store.query(
        "SELECT company_id, count() AS n FROM calls FINAL GROUP BY company_id"
    )
    assert {r["company_id"]: int(r["n"]) for r in whole if r["company_id"] in sizes} == sizes
    # the services' own `migrate` on the query node finds the shards' migrations done, and
    # distributing again (after migrating the shards) keeps every row readable
    assert migrate(sharded_store) == []
    distribute(sharded_store, "closecall", "shard")
    assert migrate(sharded_store) == []
    again = sharded_store.query("SELECT count() AS n FROM calls FINAL")[0]["n"]
    assert again >= sum(sizes.values())
