"""Master key rotation (API.md "Privacy"): every company's data key re-wrapped under the new
master key while the services run. Each company is one compare-and-set update, so a service
reading the row sees the old wrapping or the new one, and opens either while it holds both
keys (CLOSECALL_MASTER_KEY_PREVIOUS); the data keys themselves, and so every ciphertext and
blind index, stay as they are."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.audit import OPERATOR, record
from core.controlplane import companies
from core.number_crypto import DecryptionError, unwrap_data_key, wrap_data_key


def rotate(
    engine: Engine,
    new: bytes,
    previous: bytes,
    now: datetime,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> int:
    """Re-wrap what is still under `previous`; the companies re-wrapped. Run again after a
    crash: companies already under `new` are skipped."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(companies.c.id, companies.c.wrapped_data_key)).all()
    rewrapped = 0
    for position, (company_id, wrapped) in enumerate(rows, 1):
        try:
            unwrap_data_key(new, company_id, wrapped)
            continue  # already under the new key
        except DecryptionError:
            data_key = unwrap_data_key(previous, company_id, wrapped)
        with engine.begin() as conn:
            changed = conn.execute(
                companies.update()
                .where(companies.c.id == company_id, companies.c.wrapped_data_key == wrapped)
                .values(wrapped_data_key=wrap_data_key(new, company_id, data_key))
            ).rowcount
            if changed:
                record(conn, company_id, OPERATOR, "master_key.rotated", company_id, "", now)
                rewrapped += 1
        progress(position, len(rows))
    return rewrapped
