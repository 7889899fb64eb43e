"""REST hook subscriptions and their delivery log: the logic behind api/hooks/routes.py. A secret is
shown once and kept encrypted under the company's data key (the worker signs with it)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.engine import Connection

from core.audit import Actor
from core.clock import utc_now
from core.controlplane import hook_attempts, hook_events, hooks
from core.errors import Invalid, NotFound
from core.hooks.signing import new_secret
from core.hooks.targets import RefusedTarget, Resolver, check_target, resolve
from core.number_crypto import CompanyKeys, encrypt_secret
from core.paging import Page, SortKey, cut, next_cursor
from schemas.events import HookEvent

NumbersShown = Literal["masked", "e164"]
ATTEMPT_KEY = re.compile(r"[0-9]{9}evt_[0-9a-f]{32}")


class HookRequest(BaseModel):
    event: HookEvent
    target_url: str = Field(max_length=2000, description="https, on a public address")
    numbers: NumbersShown = Field(
        default="masked", description="`e164` sends numbers in full (admin; audited)"
    )


class Hook(BaseModel):
    id: str
    event: HookEvent
    target_url: str
    numbers: NumbersShown
    created_at: datetime
    disabled_at: datetime | None = Field(
        description="set when every attempt failed for 5 days; a redelivery enables it again"
    )


class HookCreated(Hook):
    secret: str = Field(description="`whsec_...`: verify signatures with it; shown only here")


class HookList(BaseModel):
    items: list[Hook]


class DeliveryAttempt(BaseModel):
    event_id: str = Field(description="the `webhook-id` header: the same on every attempt")
    type: HookEvent
    attempt: int
    at: datetime
    status_code: int | None = Field(description="null: no answer (see `error`)")
    duration_ms: int
    error: str | None
    next_attempt_at: datetime | None = Field(description="null: delivered or given up")


class DeliveryPage(BaseModel):
    items: list[DeliveryAttempt]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null: last")


class Redelivery(BaseModel):
    status: Literal["scheduled"]


def checked_target(url: str, allow_private: bool, resolver: Resolver = resolve) -> str:
    try:
        check_target(url, allow_private, resolver)
    except RefusedTarget as exc:
        raise Invalid("invalid_request", str(exc), [("target_url", str(exc))]) from exc
    return url


def to_hook(row: Any) -> Hook:
    return Hook(
        id=row.id,
        event=row.event,
        target_url=row.target_url,
        numbers=row.numbers,
        created_at=row.created_at,
        disabled_at=row.disabled_at,
    )


def create_hook(
    db: Connection, company_id: str, keys: CompanyKeys, body: HookRequest, creator: Actor
) -> HookCreated:
    secret, hook_id = new_secret(), str(uuid.uuid4())
    values = {
        "id": hook_id,
        "company_id": company_id,
        "event": body.event,
        "target_url": body.target_url,
        "numbers": body.numbers,
        "secret_enc": encrypt_secret(keys, secret),
        "created_at": utc_now(),
        "creator_type": creator.type,
        "creator_id": creator.id,
        "failing_since": None,
        "disabled_at": None,
    }
    db.execute(hooks.insert().values(**values))
    return HookCreated(**to_hook(hook_row(db, company_id, hook_id)).model_dump(), secret=secret)


def list_hooks(db: Connection, company_id: str) -> HookList:
    rows = db.execute(
        sa.select(hooks).where(hooks.c.company_id == company_id).order_by(hooks.c.created_at)
    )
    return HookList(items=[to_hook(row) for row in rows])


def hook_row(db: Connection, company_id: str, hook_id: str) -> Any:
    row = db.execute(
        sa.select(hooks).where(hooks.c.company_id == company_id, hooks.c.id == hook_id)
    ).first()
    if row is None:
        raise NotFound("not_found", f"no hook {hook_id}")
    return row


def delete_hook(db: Connection, company_id: str, hook_id: str) -> None:
    hook_row(db, company_id, hook_id)
    db.execute(hooks.delete().where(hooks.c.id == hook_id))


def attempt_key(at: datetime, attempt: int, event_id: str) -> SortKey:
    """Newest first: seconds as the sort value; microseconds, attempt and event as tie-break."""
    return int(at.timestamp()), f"{at.microsecond:06d}{attempt:03d}{event_id}"


def deliveries(db: Connection, company_id: str, hook_id: str, page: Page) -> DeliveryPage:
    hook_row(db, company_id, hook_id)
    query = (
        sa.select(hook_attempts, hook_events.c.type)
        .join(
            hook_events,
            sa.and_(
                hook_events.c.company_id == company_id,
                hook_events.c.id == hook_attempts.c.event_id,
            ),
        )
        .where(hook_attempts.c.hook_id == hook_id)
    )
    if page.after is not None:
        seconds, key = page.after
        if ATTEMPT_KEY.fullmatch(key) is None:
            raise Invalid(
                "invalid_request",
                "the cursor is not one this API returned",
                [("cursor", "invalid")],
            )
        at = datetime.fromtimestamp(seconds, UTC).replace(microsecond=int(key[:6]))
        query = query.where(
            sa.tuple_(hook_attempts.c.at, hook_attempts.c.attempt, hook_attempts.c.event_id)
            < sa.tuple_(sa.literal(at, hook_attempts.c.at.type), int(key[6:9]), key[9:])
        )
    rows = db.execute(
        query.order_by(
            hook_attempts.c.at.desc(),
            hook_attempts.c.attempt.desc(),
            hook_attempts.c.event_id.desc(),
        ).limit(page.limit + 1)
    )
    items = [DeliveryAttempt.model_validate(row, from_attributes=True) for row in rows]
    shown, after = cut(items, page, lambda item: attempt_key(item.at, item.attempt, item.event_id))
    return DeliveryPage(items=shown, next_cursor=next_cursor(after))
