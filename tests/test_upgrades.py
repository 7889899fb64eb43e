"""Upgrades (docs/OPERATIONS.md "Upgrade"): `closecall migrate --plan` says what `closecall
migrate` will do and changes nothing; the migrations run while the worker stores calls, and
the reports end equal to the calls uploaded."""

from __future__ import annotations

import base64
import os
import threading
import time
import uuid
from pathlib import Path

from core import clickhouse, controlplane
from schemas.migrations import RELEASED
from tests.support.calls import expected_counts
from tests.support.services import Broker, ClickHouseServer, PostgresDatabase
from tests.support.stack import Stack, closecall, eventually
from tests.test_faults import calls_of, enrolled
from tests.test_pipeline_e2e import history, summary, upload

TOPICS = ("calls_raw", "dead_letter", "contacts_raw", "call_notes", "integration_events")


def output(env: dict[str, str], *args: str) -> str:
    done = closecall(env, *args)
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
        plan = output(env, "migrate", "--plan").splitlines()
        assert plan[0] == "control plane: 1 migration(s) to apply"
        assert plan[1] == "0024_lead_history.sql"
        assert "ClickHouse: 1 migration(s) to apply" in plan
        assert "  CREATE TABLE IF NOT EXISTS call_changes (" in plan
        assert plan[-1].startswith("Kafka: 6 topic(s) to create")
        assert f"calls_raw.{suffix}" in plan[-1]
        # nothing was applied or created
        assert [m.name for m in controlplane.pending(engine)] == ["0024_lead_history.sql"]
        assert [m.name for m in clickhouse.pending(store)] == ["0017_call_changes.sql"]
        output(env, "migrate")
        assert output(env, "migrate", "--plan").splitlines() == [
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


def changed_ids(stack: Stack, api_key: str) -> list[str]:
    """Every call id the change feed holds, at its latest version, paged to the end."""
    latest: dict[str, int] = {}
    cursor = None
    while True:
        page = stack.api.get(
            "/v1/changes/calls",
            params={"limit": 100, **({"cursor": cursor} if cursor else {})},
            headers={"Authorization": f"Bearer {api_key}"},
        )
        assert page.status_code == 200, page.text
        for item in page.json()["items"]:
            if item["op"] == "delete":
                latest.pop(item["id"], None)
            else:
                latest[item["call"]["id"]] = item["call"]["version"]
        cursor = page.json()["next_cursor"]
        if not page.json()["items"]:
            return sorted(latest)


def test_an_upgrade_while_the_worker_stores_ends_with_equal_reports(
    broker: Broker, clickhouse_server: ClickHouseServer, tmp_path: Path
) -> None:
    """From one migration before the newest on each store (the newest add the change feed,
    backfilled from the calls stored before, and the leads' history) with data, migrated by
    `closecall migrate` while uploads go on; then the previous release's schema (RELEASED)
    is all there was to apply."""
    database = PostgresDatabase()
    engine = controlplane.make_engine(database.url)
    url = clickhouse_server.url(f"upgrade_{uuid.uuid4().hex[:8]}")
    store = clickhouse.connect(url)
    settled = {"CLOSECALL_CHANGE_FEED_SETTLE_S": "1"}  # the feed shows a change within 1 s
    stack = Stack(
        uuid.uuid4().hex[:8], tmp_path / "stack", broker.bootstrap, url, database.url, settled
    )
    try:
        controlplane.migrate(engine, up_to=RELEASED["controlplane"] - 1)
        clickhouse.migrate(store, up_to=RELEASED["clickhouse"] - 1)
        stack.start(migrate=False)
        key, token = enrolled(stack, "Upgraded")
        generated = calls_of(600, "u-")
        calls = [call.wire() for call in generated]
        assert upload(stack, token, calls[:200]).status_code == 202
        eventually(lambda: summary(stack, key)["total_calls"] == 200)

        def keep_uploading() -> None:
            for start in range(200, 600, 50):
                assert upload(stack, token, calls[start : start + 50]).status_code == 202
                time.sleep(0.1)

        uploads = threading.Thread(target=keep_uploading)
        uploads.start()
        migrated = closecall(stack.env, "migrate")
        uploads.join()
        assert migrated.returncode == 0, migrated.stderr
        assert not controlplane.pending(engine) and not clickhouse.pending(store)
        eventually(lambda: summary(stack, key)["total_calls"] == 600, 120)
        expected = expected_counts(generated)
        got = summary(stack, key)
        assert {k: got[k] for k in expected} == expected
        # the feed the upgrade added holds every call: backfilled, or written by its view
        stored = sorted(call["id"] for call in history(stack, key))
        assert len(stored) == 600
        eventually(lambda: changed_ids(stack, key) == stored, 30)
    finally:
        stack.stop()
        store.execute(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]}")
        store.close()
        engine.dispose()
        database.drop()
