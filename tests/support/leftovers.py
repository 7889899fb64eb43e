"""What the control plane still holds of a company: every declared table with a company column."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.controlplane import metadata


def control_plane_rows(engine: Engine, company_id: str) -> dict[str, int]:
    """table -> rows of the company, for the tables that hold any."""
    found = {}
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            key = table.c.get("company_id") if table.name != "companies" else table.c.id
            if key is None:
                continue
            count = conn.execute(sa.select(sa.func.count()).where(key == company_id)).scalar_one()
            if count:
                found[table.name] = count
    return found
