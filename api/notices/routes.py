"""Digest settings, the one-click unsubscribe and the console's notifications (API.md "Digests
and notifications"): HTTP in, core/notices, HTTP out."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field, field_validator

from api.deps import Audit, CurrentTenant, Db
from core.clock import utc_now
from core.errors import ApiError, error_responses
from core.notices import digests, notifications, policies
from core.paging import encode_cursor, page_request

router = APIRouter(tags=["notices"])
ERRORS = error_responses(401, 403, 404, 422)
MICROSECONDS = (0, 2**62)  # a notification cursor's sort value: its time in microseconds


def signed_in_user(tenant: CurrentTenant) -> str:
    if tenant.user_id is None:
        raise ApiError(403, "user_only", "this is a signed-in user's own: an API key has none")
    return tenant.user_id


class DigestSettingsBody(BaseModel):
    frequency: Literal["off", "daily", "weekly"] = Field(
        description="daily: yesterday each day; weekly: the week before, on Mondays"
    )
    local_time: str = Field(
        default=digests.DEFAULT_TIME,
        description="HH:MM in the company's zone (the digest goes at or soon after it)",
    )

    @field_validator("local_time")
    @classmethod
    def _time(cls, value: str) -> str:
        digests.parse_local_time(value)
        return value


class DigestSettingsOut(DigestSettingsBody):
    timezone: str = Field(description="the company's zone the time is in")


@router.get("/v1/me/digest", response_model=DigestSettingsOut, responses=ERRORS)
def get_digest(tenant: CurrentTenant, db: Db) -> DigestSettingsOut:
    """The caller's digest; owner, admin and manager get a daily one at 08:00 unless they chose."""
    chosen = digests.stored(db, signed_in_user(tenant))
    return DigestSettingsOut(
        frequency=chosen.frequency, local_time=chosen.local_time, timezone=tenant.company.timezone
    )


@router.put("/v1/me/digest", response_model=DigestSettingsOut, responses=ERRORS)
def put_digest(body: DigestSettingsBody, tenant: CurrentTenant, db: Db) -> DigestSettingsOut:
    digests.store(
        db, signed_in_user(tenant), digests.DigestSettings(body.frequency, body.local_time)
    )
    return get_digest(tenant, db)


UNSUBSCRIBE_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<link rel="stylesheet" href="/console/assets/console.css"></head>
<body><main class="link-page"><h1>{title}</h1>{body}</main></body></html>"""

Token = Annotated[str, Query(max_length=200, description="the token of the mail's link")]


@router.get("/v1/digest/unsubscribe", response_class=HTMLResponse)
def unsubscribe_page(token: Token) -> HTMLResponse:
    """The page a digest's "Stop these mails" link opens: a button, since a mail scanner's GET
    must not unsubscribe anyone (RFC 8058)."""
    form = (
        f'<form method="post" action="/v1/digest/unsubscribe?token={escape(token)}">'
        '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
        "<p>You will get no more digests from closecall. You can turn them on again on "
        '"Your sign-in" in the console.</p><button type="submit">Stop the digests</button></form>'
    )
    return HTMLResponse(UNSUBSCRIBE_PAGE.format(title="Stop the digests", body=form))


@router.post("/v1/digest/unsubscribe", response_class=HTMLResponse, responses=error_responses(404))
def unsubscribe(token: Token, db: Db) -> HTMLResponse:
    """One-click unsubscribe (RFC 8058, `List-Unsubscribe=One-Click`), without signing in."""
    if not digests.unsubscribe(db, token, utc_now()):
        raise ApiError(404, "not_found", "this link is unknown or older than 90 days")
    body = '<p>Done: no more digests. Turn them on again on "Your sign-in" in the console.</p>'
    return HTMLResponse(UNSUBSCRIBE_PAGE.format(title="Digests stopped", body=body))


class NotificationOut(BaseModel):
    id: str
    at: datetime = Field(description="when it was made (UTC; the console shows the company's zone)")
    kind: str = Field(description="subscription.deactivating, export.ready, ... (API.md)")
    title: str
    body: str
    link: str | None = Field(description="the console page it is about")
    read: bool


class NotificationList(BaseModel):
    items: list[NotificationOut]
    unread: int = Field(description="the caller's unread notifications, on every page")
    next_cursor: str | None


@router.get("/v1/notifications", response_model=NotificationList, responses=ERRORS)
def list_notifications(
    tenant: CurrentTenant,
    db: Db,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
) -> NotificationList:
    """The caller's notifications, newest first."""
    user_id = signed_in_user(tenant)
    page = page_request(limit, cursor, MICROSECONDS)
    before = None
    if page.after is not None:
        micros, notice_id = page.after
        before = (datetime.fromtimestamp(micros / 1_000_000, UTC), notice_id)
    rows = notifications.listed(db, user_id, limit + 1, before)
    more = len(rows) > limit
    rows = rows[:limit]
    items = [
        NotificationOut(
            id=r.id,
            at=r.at,
            kind=r.kind,
            title=r.title,
            body=r.body,
            link=r.link,
            read=r.read_at is not None,
        )
        for r in rows
    ]
    last = rows[-1] if more else None
    return NotificationList(
        items=items,
        unread=notifications.unread(db, user_id),
        next_cursor=encode_cursor(int(last.at.timestamp() * 1_000_000), last.id) if last else None,
    )


@router.post(
    "/v1/notifications/{notification_id}/read",
    status_code=204,
    response_class=Response,
    responses=ERRORS,
)
def read_notification(notification_id: str, tenant: CurrentTenant, db: Db) -> Response:
    if not notifications.mark_read(db, signed_in_user(tenant), notification_id, utc_now()):
        raise ApiError(404, "not_found", "no such notification of yours")
    return Response(status_code=204)


class PolicyVersion(BaseModel):
    kind: Literal["privacy", "terms"]
    version: str
    url: str


class PolicyList(BaseModel):
    items: list[PolicyVersion] = Field(description="the version in force of each kind")


@router.get("/v1/policies", response_model=PolicyList)
def policies_in_force(db: Db) -> PolicyList:
    """The privacy policy and terms versions a sign-up accepts (none before the operator
    published one)."""
    current = policies.in_force(db)
    return PolicyList(
        items=[
            PolicyVersion(kind=p.kind, version=p.version, url=p.url)
            for _, p in sorted(current.items())
        ]
    )


class Acceptance(BaseModel):
    version: str = Field(max_length=40, description="the version in force, as GET /v1/me lists")


@router.post(
    "/v1/me/policies/{kind}/accept",
    status_code=204,
    response_class=Response,
    responses=ERRORS,
)
def accept_policy(
    kind: Literal["privacy", "terms"],
    body: Acceptance,
    tenant: CurrentTenant,
    db: Db,
    audit: Audit,
) -> Response:
    """The signed-in user accepts a policy version (audited with its time and version)."""
    user_id = signed_in_user(tenant)
    try:
        policies.accept(
            db, user_id, tenant.company.id, kind, body.version, utc_now(), audit.actor, audit.ip
        )
    except policies.PolicyError as exc:
        raise ApiError(422, "invalid_request", str(exc), [("version", str(exc))]) from exc
    return Response(status_code=204)
