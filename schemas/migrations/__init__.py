"""Numbered migrations: controlplane/*.sql for the SQL database, clickhouse/*.sql for ClickHouse."""

from __future__ import annotations

import logging
import re
from importlib import resources
from typing import NamedTuple

log = logging.getLogger(__name__)
# The last migration of each store in the previous tagged release (v0.9.0, CHANGELOG.md): every
# migration after it follows expand and contract (`rule_breaks`).
RELEASED = {"clickhouse": 17, "controlplane": 24}
CONTRACT = "-- phase: contract"  # a migration's first line, when it is one
# what an expand migration may do while the previous release's services run: add tables,
# views, columns and indexes, and fill them
EXPAND = re.compile(
    r"^(CREATE\b|INSERT\b|UPDATE\b|ALTER TABLE \w+ ADD (COLUMN|INDEX)\b)", re.IGNORECASE
)


class Migration(NamedTuple):
    version: int
    name: str
    statements: list[str]
    contract: bool = False  # removes what the previous release used: after its services stop

    def rule_breaks(self) -> list[str]:
        """An expand migration's statements that the previous release's services could trip
        on (dropping, renaming, changing a column or a table): they belong in a contract one."""
        if self.contract:
            return []
        return [s.splitlines()[0] for s in self.statements if not EXPAND.match(s.lstrip())]

    def plan(self) -> list[str]:
        """What `closecall migrate --plan` prints of it: its name, then each statement's first
        line."""
        return [
            self.name + (" (contract: waits for `migrate --contract`)" if self.contract else "")
        ] + [
            "  " + " ".join(statement.splitlines()[0].split())[:100]
            for statement in self.statements
        ]


def ready(migration: Migration, contract: bool) -> bool:
    """Whether `migrate` applies it now: an expand migration always; a contract one (and so
    everything after it) only when the operator says every service runs the new release."""
    if migration.contract and not contract:
        log.info(
            "%s is a contract migration: run `closecall migrate --contract` once every"
            " service runs this release",
            migration.name,
        )
        return False
    return True


def split_statements(sql: str) -> list[str]:
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    return [stmt.strip() for stmt in "\n".join(lines).split(";") if stmt.strip()]


def numbered_migrations(kind: str, applied: set[int]) -> list[Migration]:
    """Every `NNNN_name.sql` under migrations/<kind>/ not yet applied, in version order."""
    folder = resources.files(__name__).joinpath(kind)
    found = [
        Migration(
            int(entry.name.split("_", 1)[0]),
            entry.name,
            split_statements(text := entry.read_text()),
            text.startswith(CONTRACT),
        )
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    ]
    return sorted(m for m in found if m.version not in applied)
