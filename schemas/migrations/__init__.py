"""Numbered migrations: controlplane/*.sql for the SQL database, clickhouse/*.sql for ClickHouse."""

from __future__ import annotations

from importlib import resources
from typing import NamedTuple


class Migration(NamedTuple):
    version: int
    name: str
    statements: list[str]

    def plan(self) -> list[str]:
        """What `closecall migrate --plan` prints of it: its name, then each statement's first
        line."""
        return [self.name] + [
            "  " + " ".join(statement.splitlines()[0].split())[:100]
            for statement in self.statements
        ]


def split_statements(sql: str) -> list[str]:
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    return [stmt.strip() for stmt in "\n".join(lines).split(";") if stmt.strip()]


def numbered_migrations(kind: str, applied: set[int]) -> list[Migration]:
    """Every `NNNN_name.sql` under migrations/<kind>/ not yet applied, in version order."""
    folder = resources.files(__name__).joinpath(kind)
    found = [
        Migration(int(entry.name.split("_", 1)[0]), entry.name, split_statements(entry.read_text()))
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    ]
    return sorted(m for m in found if m.version not in applied)
