"""Control-plane migrations build exactly the tables the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from core.controlplane import make_engine, metadata, migrate


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
