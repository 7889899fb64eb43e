"""Two digest rounds at once (two workers) on the production control plane (PostgreSQL) and
the embedded one: each recipient's digest is claimed and queued once, whatever the
interleaving; a round run again later that morning queues nothing."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.clickhouse import ClickHouse
from core.controlplane import companies, digest_log, mail_outbox, make_engine, migrate, users
from core.notices.digests import send_due_digests
from core.number_crypto import new_wrapped_data_key
from tests.support.services import PostgresDatabase

MASTER = os.urandom(32)
MORNING = datetime(2027, 3, 2, 2, 30, tzinfo=UTC)  # 08:00 in Asia/Kolkata


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A control plane of this test alone: a digest round reads every company's users."""
    database = PostgresDatabase() if request.param == "postgres" else None
    made = make_engine(database.url if database else f"sqlite:///{tmp_path / 'control.db'}")
    migrate(made)
    yield made
    made.dispose()
    if database is not None:
        database.drop()


def test_two_rounds_at_once_queue_each_digest_once(chdb_store: ClickHouse, engine: Engine) -> None:
    company_id = str(uuid.uuid4())
    with engine.begin() as db:
        db.execute(
            companies.insert().values(
                id=company_id,
                name="Twice",
                country="IN",
                timezone="Asia/Kolkata",
                plan="basic",
                wrapped_data_key=new_wrapped_data_key(MASTER, company_id),
                created_at=MORNING - timedelta(days=30),
            )
        )
        db.execute(
            users.insert(),
            [
                {
                    "id": str(uuid.uuid4()),
                    "company_id": company_id,
                    "email": f"m{i}-{company_id}@twice.example",
                    "password_hash": "x",
                    "role": "manager",
                    "teams": json.dumps([]),
                    "created_at": MORNING - timedelta(days=30),
                }
                for i in range(6)
            ],
        )
    with ThreadPoolExecutor(2) as pool:
        queued = list(
            pool.map(lambda _: send_due_digests(engine, chdb_store, MORNING, "https://x"), range(2))
        )
    assert sum(queued) == 6
    later = MORNING + timedelta(hours=2)
    assert send_due_digests(engine, chdb_store, later, "https://x") == 0
    with engine.connect() as db:
        mails = db.execute(
            sa.select(mail_outbox.c.recipient).where(mail_outbox.c.company_id == company_id)
        ).scalars()
        recipients = sorted(mails)
        claims = db.execute(
            sa.select(sa.func.count()).where(digest_log.c.company_id == company_id)
        ).scalar_one()
    assert len(recipients) == len(set(recipients)) == claims == 6
