"""The audit log's one writer: every audited action of the report API and the worker (numbers
sent by webhooks) goes through `record`. Entries are appended only; details never hold a
number or a secret."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy.engine import Connection

from core.controlplane import audit_log

# `operator`: the operator's command line (billing, key rotation); `system`: the worker's jobs;
# `billing`: a billing provider's verified event (its id names the provider)
ActorType = Literal["user", "api_key", "operator", "system", "billing"]


class Actor(BaseModel):
    type: ActorType
    id: str


OPERATOR = Actor(type="operator", id="closecall")
SYSTEM = Actor(type="system", id="worker")


def entry_id(now: datetime) -> str:
    """Sorts by time: microseconds since 1970, then random digits against collisions."""
    return f"{int(now.timestamp() * 1_000_000):017d}{uuid.uuid4().hex[:8]}"


def record(
    db: Connection,
    company_id: str,
    actor: Actor,
    action: str,
    target: str,
    ip: str,
    now: datetime,
    details: dict[str, Any] | None = None,
) -> None:
    db.execute(
        audit_log.insert().values(
            id=entry_id(now),
            company_id=company_id,
            at=now,
            actor_type=actor.type,
            actor_id=actor.id,
            action=action,
            target=target[:200],
            ip=ip[:45],
            details=json.dumps(details or {}, sort_keys=True),
        )
    )
