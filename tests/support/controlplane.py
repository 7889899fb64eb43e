"""Control-plane rows for tests that need a company without the services: one insert each."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core.controlplane import companies, make_engine, migrate, users


def migrated_sqlite(directory: Path) -> sa.Engine:
    engine = make_engine(f"sqlite:///{directory / 'control.db'}")
    migrate(engine)
    return engine


def add_company(
    db: Connection,
    company_id: str,
    created_at: datetime,
    wrapped_data_key: str = "k",
    **values: object,
) -> None:
    """A company named Acme in Asia/Kolkata on the basic plan unless `values` say otherwise."""
    defaults = {"name": "Acme", "country": "IN", "timezone": "Asia/Kolkata", "plan": "basic"}
    db.execute(
        companies.insert().values(
            id=company_id,
            wrapped_data_key=wrapped_data_key,
            created_at=created_at,
            **(defaults | values),
        )
    )


def add_users(
    db: Connection, company_id: str, created_at: datetime, roles: tuple[str, ...], domain: str
) -> None:
    """One user per role, its id the role's name, mailed at `role@domain`."""
    for role in roles:
        db.execute(
            users.insert().values(
                id=role,
                company_id=company_id,
                email=f"{role}@{domain}",
                password_hash="x",
                role=role,
                created_at=created_at,
            )
        )
