"""SQL literals: every string reaches ClickHouse unchanged (chDB, embedded), and the
migrations apply once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.clickhouse import ClickHouse, migrate, quote, render


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=50))
def test_any_string_round_trips(chdb_store: ClickHouse, value: str) -> None:
    assert chdb_store.query("SELECT %(v)s AS v", {"v": value}) == [{"v": value}]


def test_collections_and_numbers() -> None:
    assert (
        render("x IN %(xs)s AND y = %(y)s", {"xs": ("a'b", "c"), "y": 3})
        == "x IN ('a\\'b', 'c') AND y = 3"
    )
    with pytest.raises(ValueError):
        quote(())


def test_migrations_apply_once(chdb_store: ClickHouse) -> None:
    assert migrate(chdb_store) == []  # the fixture applied them
    applied = chdb_store.query("SELECT name FROM schema_migrations ORDER BY version")
    assert [row["name"] for row in applied] == [
        "0001_calls.sql",
        "0002_device_status.sql",
        "0003_contacts_and_notes.sql",
        "0004_report_columns.sql",
        "0005_calls_by_week.sql",
        "0006_employee_and_client_lookups.sql",
        "0007_leads.sql",
        "0008_call_quarters.sql",
        "0009_call_days.sql",
        "0010_client_states.sql",
        "0011_employee_clients.sql",
        "0012_day_clients.sql",
        "0013_client_hours.sql",
        "0014_call_hours.sql",
        "0015_company_hours.sql",
        "0016_hour_clients.sql",
        "0017_call_changes.sql",
    ]


def test_chdb_directory_is_owned_by_one_process(tmp_path: Path) -> None:
    """Why local mode serves the report API from the worker process (ARCHITECTURE.md)."""
    opener = f"""
import time
from core.clickhouse import connect, migrate
try:
    store = connect('chdb://{tmp_path}/x')
    migrate(store)  # as the worker does at start
except RuntimeError as exc:
    print(exc, flush=True)
else:
    print('open', flush=True)
    time.sleep(30)"""
    root = Path(__file__).parents[2]
    holder = subprocess.Popen([sys.executable, "-c", opener], stdout=subprocess.PIPE, cwd=root)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"open"
        second = subprocess.run(
            [sys.executable, "-c", opener], capture_output=True, cwd=root, timeout=60
        )
        assert b"only one process may open a chDB directory" in second.stdout
        assert b"Cannot lock file" in second.stderr
    finally:
        holder.kill()
