"""Upgrades: `closecall migrate --plan` says what `closecall migrate` will do and changes
nothing (docs/OPERATIONS.md "Upgrade")."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import uuid
from pathlib import Path

from core import clickhouse, controlplane
from tests.support.services import Broker, ClickHouseServer, PostgresDatabase

TOPICS = ("calls_raw", "dead_letter", "contacts_raw", "call_notes", "integration_events")


def closecall(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "deploy.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parents[1],
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_plan_names_what_migrate_will_do_and_does_none_of_it(
    broker: Broker, clickhouse_server: ClickHouseServer
) -> None:
    database = PostgresDatabase()
    suffix = uuid.uuid4().hex[:8]
    env = {
        "CLOSECALL_ENVIRONMENT": "test",
        "CLOSECALL_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
        "CLOSECALL_DATABASE_URL": database.url,
        "CLOSECALL_CLICKHOUSE_URL": clickhouse_server.url(f"plan_{suffix}"),
        "CLOSECALL_KAFKA_BOOTSTRAP": broker.bootstrap,
        "CLOSECALL_TOPIC_DEVICE_STATUS": f"device.status.{suffix}",
        **{f"CLOSECALL_TOPIC_{t.upper()}": f"{t}.{suffix}" for t in TOPICS},
    }
    engine = controlplane.make_engine(database.url)
    store = clickhouse.connect(env["CLOSECALL_CLICKHOUSE_URL"])
    try:
        # the previous release's schema, one migration behind on each store
        controlplane.migrate(engine, up_to=23)
        clickhouse.migrate(store, up_to=16)
        plan = closecall(env, "migrate", "--plan").splitlines()
        assert plan[0] == "control plane: 1 migration(s) to apply"
        assert plan[1] == "0024_lead_history.sql"
        assert "ClickHouse: 1 migration(s) to apply" in plan
        assert "  CREATE TABLE IF NOT EXISTS call_changes (" in plan
        assert plan[-1].startswith("Kafka: 6 topic(s) to create")
        assert f"calls_raw.{suffix}" in plan[-1]
        # nothing was applied or created
        assert [m.name for m in controlplane.pending(engine)] == ["0024_lead_history.sql"]
        assert [m.name for m in clickhouse.pending(store)] == ["0017_call_changes.sql"]
        closecall(env, "migrate")
        assert closecall(env, "migrate", "--plan").splitlines() == [
            "control plane: no migration(s) to apply",
            "ClickHouse: no migration(s) to apply",
            "Kafka: no topic(s) to create",
        ]
        assert not controlplane.pending(engine) and not clickhouse.pending(store)
    finally:
        store.execute(f"DROP DATABASE IF EXISTS plan_{suffix}")
        store.close()
        engine.dispose()
        database.drop()
