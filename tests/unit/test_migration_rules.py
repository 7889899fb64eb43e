"""Expand and contract (docs/OPERATIONS.md "Upgrade"): every migration after the last release
only adds, unless it says it is a contract migration, which `migrate` holds back until the
operator says every service runs the new release."""

from __future__ import annotations

import re

import pytest

from schemas.migrations import RELEASED, Migration, numbered_migrations, ready
from tests.support.stack import ROOT


@pytest.mark.parametrize("kind", sorted(RELEASED))
def test_every_migration_since_the_last_release_expands_or_says_it_contracts(kind: str) -> None:
    since = [m for m in numbered_migrations(kind, set()) if m.version > RELEASED[kind]]
    assert {m.name: m.rule_breaks() for m in since} == {m.name: [] for m in since}


def test_the_rule_finds_what_broke_running_services_before_it() -> None:
    older = {m.name: m.rule_breaks() for m in numbered_migrations("clickhouse", set())}
    assert older["0005_calls_by_week.sql"] == [
        "RENAME TABLE calls TO calls_by_month, calls_by_week TO calls",
        "DROP TABLE calls_by_month",
    ]
    assert older["0004_report_columns.sql"] == ["ALTER TABLE calls MODIFY COLUMN type Enum8("]
    assert older["0017_call_changes.sql"] == []  # a table, a view and its backfill: all adding
    dropping = Migration(30, "0030_drop_old.sql", ["ALTER TABLE calls DROP COLUMN old"], True)
    assert dropping.rule_breaks() == []  # a contract migration may
    assert dropping._replace(contract=False).rule_breaks() == ["ALTER TABLE calls DROP COLUMN old"]


def test_a_contract_migration_waits_for_the_operator() -> None:
    expand = Migration(30, "0030_add.sql", ["ALTER TABLE calls ADD COLUMN new UInt8"])
    contract = Migration(31, "0031_drop.sql", ["ALTER TABLE calls DROP COLUMN old"], True)
    assert ready(expand, contract=False) and ready(contract, contract=True)
    assert not ready(contract, contract=False)
    assert "(contract: waits for `migrate --contract`)" in contract.plan()[0]


def test_the_last_release_is_the_one_the_changelog_names() -> None:
    """RELEASED is what the newest release's CHANGELOG section says it shipped (the tag's
    tree, which a tagless clone does not have)."""
    changelog = (ROOT / "CHANGELOG.md").read_text()
    shipped = re.search(
        r"ClickHouse migrations up to (\d{4}), control-plane migrations up to (\d{4})", changelog
    )
    assert shipped is not None, "the release's CHANGELOG section names its last migrations"
    assert (int(shipped[1]), int(shipped[2])) == (RELEASED["clickhouse"], RELEASED["controlplane"])
