"""Control-plane migrations build exactly the tables the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.controlplane import api_keys, lead_history, make_engine, metadata, migrate
from tests.support.services import PostgresDatabase


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'nested' / 'control.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


def test_migrations_match_declared_tables(database_url: str) -> None:
    engine = make_engine(database_url)
    migrate(engine)
    assert migrate(engine) == []  # applied once
    inspector = sa.inspect(engine)
    for table in metadata.sorted_tables:
        columns = {c["name"]: c for c in inspector.get_columns(table.name)}
        assert set(columns) == {c.name for c in table.columns}, table.name
        for column in table.columns:
            assert columns[column.name]["nullable"] == (
                column.nullable and not column.primary_key
            ), f"{table.name}.{column.name}"
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database no test migrated yet (the session's PostgreSQL one is)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'upgrade.db'}"
        return
    database = PostgresDatabase()
    yield database.url
    database.drop()


def test_keys_made_before_roles_become_admin(fresh_database_url: str) -> None:
    engine = make_engine(fresh_database_url)
    migrate(engine, up_to=3)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO companies (id, name, country, timezone, plan, wrapped_data_key,"
                " created_at) VALUES ('c1', 'Old', 'IN', 'Asia/Kolkata', 'basic', 'k', :now)"
            ),
            {"now": now.replace(tzinfo=None)},
        )
        conn.execute(
            sa.text(
                "INSERT INTO api_keys (id, company_id, name, prefix, secret_hash, created_at)"
                " VALUES ('k1', 'c1', 'old key', 'cc_live_x', 'h1', :now)"
            ),
            {"now": now.replace(tzinfo=None)},
        )
    assert migrate(engine)[:2] == ["0004_api_key_roles.sql", "0005_sign_in.sql"]
    with engine.connect() as conn:
        assert conn.execute(sa.select(api_keys.c.role)).scalars().all() == ["admin"]
    engine.dispose()


def test_leads_made_before_their_history_get_its_start(fresh_database_url: str) -> None:
    engine = make_engine(fresh_database_url)
    migrate(engine, up_to=23)
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    rows = [
        "INSERT INTO companies (id, name, country, timezone, plan, wrapped_data_key, created_at)"
        " VALUES ('c1', 'Old', 'IN', 'Asia/Kolkata', 'basic_lead', 'k', :now)",
        "INSERT INTO employees (id, company_id, name, tracking_enabled, created_at)"
        " VALUES ('e1', 'c1', 'Asha', true, :now)",
        "INSERT INTO leads (id, company_id, created_at, updated_at, feed_seq, custom)"
        " VALUES ('l1', 'c1', :now, :now, 1, '{}')",
        "INSERT INTO leads (id, company_id, employee_id, created_at, updated_at, feed_seq,"
        " assigned_at, custom) VALUES ('l2', 'c1', 'e1', :now, :now, 2, :now, '{}')",
    ]
    with engine.begin() as conn:
        for statement in rows:
            conn.execute(sa.text(statement), {"now": now})
    assert migrate(engine)[0] == "0024_lead_history.sql"
    with engine.connect() as conn:
        found = conn.execute(
            sa.select(
                lead_history.c.lead_id, lead_history.c.kind, lead_history.c.employee_id
            ).order_by(lead_history.c.lead_id, lead_history.c.seq)
        ).all()
    assert [tuple(row) for row in found] == [
        ("l1", "created", None),
        ("l2", "created", None),
        ("l2", "assigned", "e1"),
    ]
    engine.dispose()
