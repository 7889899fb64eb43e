"""The workers' company cache: facts read again once their time is up, keys unwrapped once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.accounts.directory import CompanyDirectory, UnknownCompany
from core.clock import utc_now
from core.controlplane import LEAD_PLAN, companies
from core.number_crypto import new_wrapped_data_key
from tests.support.controlplane import add_company, migrated_sqlite


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_facts_are_read_again_after_their_ttl_and_keys_once(tmp_path: Path) -> None:
    engine = migrated_sqlite(tmp_path)
    master_key = os.urandom(32)
    with engine.begin() as db:
        add_company(db, "c1", utc_now(), new_wrapped_data_key(master_key, "c1"))
    clock = Clock()
    directory = CompanyDirectory(engine, master_key, ttl_s=1.0, clock=clock)
    assert directory.cached_keys("c1") is None
    first = directory.facts("c1")
    assert (first.timezone, first.has_leads) == ("Asia/Kolkata", False)
    assert directory.cached_keys("c1") is first.keys

    with engine.begin() as db:
        db.execute(sa.update(companies).values(plan=LEAD_PLAN, timezone="Asia/Kathmandu"))
    clock.now = 0.9
    assert directory.facts("c1") is first  # still fresh: no read
    clock.now = 1.1
    again = directory.facts("c1")
    assert (again.timezone, again.has_leads) == ("Asia/Kathmandu", True)
    assert again.keys is first.keys  # a data key never changes: not unwrapped again

    with pytest.raises(UnknownCompany):
        directory.facts("nobody")
