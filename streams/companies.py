"""What each company's new rows must not hold, as the calls worker reads it (the companies
themselves: core/accounts/directory.py)."""

from __future__ import annotations

import asyncio
from typing import Any

from cachetools import TTLCache
from sqlalchemy.engine import Engine

from core.accounts.directory import MAX_COMPANIES
from core.privacy.erasures import Dropped, dropped


class DroppedDirectory:
    """What each company's new rows must not hold (core/privacy/erasures.py `Dropped`), read again after
    `ttl_s`: an erasure job waits longer than that before it deletes, so no row the worker
    stores after the deletion slips past a suppression."""

    def __init__(self, engine: Engine, ttl_s: float) -> None:
        self._engine = engine
        self._known: TTLCache[str, Dropped] = TTLCache(MAX_COMPANIES, ttl_s)

    def _load(self, company_id: str) -> Dropped:
        with self._engine.connect() as conn:
            return dropped(conn, [company_id])[company_id]

    async def get(self, company_id: str) -> Dropped:
        hit = self._known.get(company_id)
        if hit is not None:
            return hit
        found = await asyncio.get_running_loop().run_in_executor(None, self._load, company_id)
        self._known[company_id] = found
        return found


def kept(
    rows: list[tuple[Any, ...]], drop: Dropped, key_at: int | None = None
) -> list[tuple[Any, ...]]:
    """The rows (company_id, device_id, ...) of neither a withdrawn device nor, with `key_at`
    (the blind index's position), a suppressed number."""
    if not drop.numbers and not drop.devices:
        return rows
    return [
        row
        for row in rows
        if row[1] not in drop.devices and (key_at is None or row[key_at] not in drop.numbers)
    ]
