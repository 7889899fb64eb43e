"""User routes (owner) and the emailed flows: invitations and password resets. HTTP in,
api/users/service.py, HTTP out."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request, Response

from api.auth.passwords import hash_password
from api.deps import Audit, Context, CurrentTenant, Db, client_ip
from api.downloads import DOWNLOADABLE, Downloads
from api.users import service
from api.users.service import (
    AcceptInvite,
    LinkQuery,
    LinkState,
    ResetConfirm,
    ResetRequest,
    UserCreate,
    UserList,
    UserUpdate,
    UserView,
)
from core.clock import utc_now
from core.errors import error_responses
from core.rate_limit import enforce
from core.tokens import digest

router = APIRouter(tags=["users"])
OWNER_ERRORS = error_responses(401, 403, 404, 409, 422, 503)


@router.post("/v1/users", status_code=201, response_model=UserView, responses=OWNER_ERRORS)
def invite_user(
    body: UserCreate, tenant: CurrentTenant, context: Context, db: Db, audit: Audit
) -> UserView:
    """A new user, invited by email with a single-use link token (72 h)."""
    user = service.invite(db, context.settings, tenant.company.id, body, utc_now())
    audit("user.invited", user.id, {"role": user.role, "teams": user.teams})
    return user


@router.get("/v1/users", response_model=UserList, responses={**OWNER_ERRORS, **DOWNLOADABLE})
def list_users(tenant: CurrentTenant, db: Db, download: Downloads) -> Any:
    answer = UserList(items=service.list_users(db, tenant.company.id))
    return download(answer, UserList, "users", ZoneInfo(tenant.company.timezone))


@router.patch("/v1/users/{user_id}", response_model=UserView, responses=OWNER_ERRORS)
def update_user(
    user_id: str, body: UserUpdate, tenant: CurrentTenant, db: Db, audit: Audit
) -> UserView:
    """Role, teams, disabled (a disabled user's tokens are revoked). The last owner stays."""
    user = service.update_user(db, tenant.company.id, user_id, body, utc_now())
    audit("user.changed", user_id, body.model_dump(exclude_unset=True))
    return user


@router.delete(
    "/v1/users/{user_id}", status_code=204, response_class=Response, responses=OWNER_ERRORS
)
def delete_user(user_id: str, tenant: CurrentTenant, db: Db, audit: Audit) -> Response:
    service.delete_user(db, tenant.company.id, user_id)
    audit("user.removed", user_id)
    return Response(status_code=204)


@router.post(
    "/v1/users/{user_id}/invitation",
    status_code=202,
    response_model=UserView,
    responses=OWNER_ERRORS,
)
def resend_invitation(
    user_id: str, tenant: CurrentTenant, context: Context, db: Db, audit: Audit
) -> UserView:
    """A new invitation mail for a user who has not accepted yet (409 `not_invited` once they
    have); the links sent before stop working."""
    user = service.reinvite(db, context.settings, tenant.company.id, user_id, utc_now())
    audit("user.reinvited", user_id)
    return user


@router.post("/v1/auth/link", response_model=LinkState, responses=error_responses(422))
def link_status(body: LinkQuery, db: Db) -> LinkState:
    """Whether an emailed link still works (`valid`, `used`, `expired`) and whose it is: the
    console's link pages ask before the password is typed. The token is posted, never put in a
    URL a server would log."""
    return service.link_state(db, body.token, None, utc_now())


@router.post(
    "/v1/auth/accept-invite",
    status_code=204,
    response_class=Response,
    responses=error_responses(422),
)
def accept_invite(body: AcceptInvite, context: Context) -> Response:
    """The invited user's password, with the token the invitation carried."""
    password_hash = hash_password(body.password)  # before the transaction: no connection held
    with context.engine.begin() as db:
        service.use_token(db, body.token, "invite", password_hash, utc_now())
    return Response(status_code=204)


@router.post(
    "/v1/auth/password-reset",
    status_code=202,
    response_class=Response,
    responses=error_responses(422, 429),
)
def request_reset(body: ResetRequest, request: Request, context: Context, db: Db) -> Response:
    """202 whether or not the email is known and whether or not mail can go out now (it is
    queued; a known email gets a link valid 1 h). Limited per email address (3, then one per
    10 minutes) and per client address (10, then one a minute): 429 with `Retry-After`."""
    per_address, per_client = request.app.state.reset_limiters
    enforce(per_address, digest(body.email.lower()), "password resets for this email")
    enforce(per_client, client_ip(request), "password resets from this address")
    service.request_reset(db, context.settings, body.email, utc_now())
    return Response(status_code=202)


@router.post(
    "/v1/auth/password-reset/confirm",
    status_code=204,
    response_class=Response,
    responses=error_responses(422),
)
def confirm_reset(body: ResetConfirm, context: Context) -> Response:
    """The new password; every access token of the user is revoked, and every other reset
    token of the user is used up."""
    password_hash = hash_password(body.password)
    with context.engine.begin() as db:
        service.confirm_reset(db, body.token, password_hash, utc_now())
    return Response(status_code=204)
