"""`closecall backup` and `closecall restore` (deploy/backup.py) on the production path: a
stack on a ClickHouse 18.16 server and PostgreSQL backed up while it runs, restored into a
fresh ClickHouse server and a fresh PostgreSQL database, and a stack started on them answers
the same reports with the same numbers; the wrong master key restores nothing."""

from __future__ import annotations

import base64
import os
import uuid
from pathlib import Path
from typing import Any

from core.clickhouse import connect
from tests.conftest import StackFactory
from tests.support.services import Broker, ClickHouseServer, PostgresDatabase
from tests.support.stack import Stack, closecall, eventually
from tests.test_faults import enrolled, wire_calls
from tests.test_pipeline_e2e import history, summary, upload

CALLS = 240


def reports(stack: Stack, api_key: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The day's summary, and every call with its number in E.164."""
    calls = history(stack, api_key, reveal="true", **{"from": "2026-03-02", "to": "2026-03-02"})
    return summary(stack, api_key), sorted(calls, key=lambda call: call["id"])


def test_a_backup_restored_into_fresh_stores_answers_the_same_reports(
    make_stack: StackFactory, broker: Broker, clickhouse_server: ClickHouseServer, tmp_path: Path
) -> None:
    source_db, target_db = PostgresDatabase(), PostgresDatabase()
    (tmp_path / "fresh-server").mkdir()
    fresh_server = ClickHouseServer(tmp_path / "fresh-server")
    fresh_server.start()
    try:
        names = [f"backup_{uuid.uuid4().hex[:8]}" for _ in range(2)]
        stack = make_stack(broker.bootstrap, clickhouse_server.url(names[0]), source_db.url)
        key, token = enrolled(stack, "Backed")
        assert upload(stack, token, wire_calls(CALLS, "b-")).status_code == 202
        eventually(lambda: summary(stack, key)["total_calls"] == CALLS)
        before = reports(stack, key)
        numbers = [call["number"] for call in before[1] if call["number"]]
        assert numbers and all(number.startswith("+") and "*" not in number for number in numbers)

        target = tmp_path / "backup"
        made = closecall(stack.env, "backup", str(target))  # while the stack runs
        assert made.returncode == 0, made.stderr
        assert "clickhouse: calls: 240 rows" in made.stderr
        assert stack.env["CLOSECALL_MASTER_KEY"] not in "".join(
            path.read_bytes().decode("latin-1") for path in target.rglob("*") if path.is_file()
        )
        restore_env = {
            "CLOSECALL_DATABASE_URL": target_db.url,
            "CLOSECALL_CLICKHOUSE_URL": fresh_server.url(names[1]),
        }
        wrong_key = base64.b64encode(os.urandom(32)).decode()
        refused = closecall(
            {**stack.env, **restore_env, "CLOSECALL_MASTER_KEY": wrong_key}, "restore", str(target)
        )
        assert (
            refused.returncode != 0 and "not the key this backup was made under" in refused.stderr
        )
        stack.stop()

        restored = closecall({**stack.env, **restore_env}, "restore", str(target))
        assert restored.returncode == 0, restored.stderr
        again = closecall({**stack.env, **restore_env}, "restore", str(target))
        assert again.returncode != 0 and "empty control-plane database" in again.stderr

        fresh = make_stack(
            broker.bootstrap,
            restore_env["CLOSECALL_CLICKHOUSE_URL"],
            target_db.url,
            env={"CLOSECALL_MASTER_KEY": stack.env["CLOSECALL_MASTER_KEY"]},
        )
        assert reports(fresh, key) == before
        # every table as it was: the views, detached while the rows went in, wrote nothing twice
        original = connect(clickhouse_server.url(names[0]))
        copy = connect(fresh_server.url(names[1]))
        tables = [
            row["name"]
            for row in original.query(
                "SELECT name FROM system.tables WHERE database = currentDatabase()"
                " AND engine LIKE '%%MergeTree' AND name != 'schema_migrations'"
            )
        ]
        assert tables and all(
            original.query(f"SELECT count() AS n FROM {t}")
            == copy.query(f"SELECT count() AS n FROM {t}")
            for t in tables
        )
        original.close()
        copy.close()
    finally:
        fresh_server.discard()
        source_db.drop()
        target_db.drop()
