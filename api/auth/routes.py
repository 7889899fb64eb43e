"""Sign-in routes: login, logout, TOTP. HTTP in, api/auth/service.py, HTTP out."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api.auth import service
from api.auth.console_session import clear_session, set_session
from api.auth.service import AccessToken, ConsoleSession, LoginRequest, OtpBody, TotpSetup
from api.deps import Context, CurrentTenant, Db, client_ip
from api.tenancy import Tenant
from core.clock import utc_now
from core.errors import ApiError, error_responses

router = APIRouter(prefix="/v1/auth", tags=["sign-in"])
SESSION_ERRORS = error_responses(401, 403, 409, 422)


def session_of(tenant: Tenant) -> tuple[str, str]:
    """The signed-in user and the digest of their access token; 403 for an API key."""
    if tenant.user_id is None or tenant.session is None:
        raise ApiError(403, "user_required", "only a signed-in user can do this, not an API key")
    return tenant.user_id, tenant.session


@router.post("/login", response_model=AccessToken, responses=error_responses(401, 422, 429, 503))
def login(body: LoginRequest, request: Request, context: Context) -> AccessToken:
    """An access token (12 h) for email and password, and the TOTP code when TOTP is on. The
    same 401 for an unknown email and a wrong password; after 5 failures within 15 minutes the
    account answers 429 for 15 minutes. While every core is checking a password, 503 with
    `Retry-After` at once."""
    return service.login(context.engine, body, utc_now(), client_ip(request))


@router.post(
    "/session", response_model=ConsoleSession, responses=error_responses(401, 422, 429, 503)
)
def start_session(
    body: LoginRequest, request: Request, response: Response, context: Context
) -> ConsoleSession:
    """The console's sign-in: like `login`, but the access token goes into an HttpOnly,
    SameSite=Strict cookie (Secure outside local mode) instead of the answer; writes through
    the cookie need the `X-CSRF-Token` header (the value of the `cc_csrf` cookie)."""
    token = service.login(context.engine, body, utc_now(), client_ip(request))
    set_session(response, token.access_token, token.expires_at, context.settings.secure_cookies)
    return ConsoleSession(expires_at=token.expires_at)


@router.delete("/session", status_code=204, response_class=Response, responses=SESSION_ERRORS)
def end_session(tenant: CurrentTenant, db: Db, context: Context) -> Response:
    """The console's sign-out: `logout`, and its cookies cleared."""
    response = logout(tenant, db)
    clear_session(response, context.settings.secure_cookies)
    return response


@router.post("/logout", status_code=204, response_class=Response, responses=SESSION_ERRORS)
def logout(tenant: CurrentTenant, db: Db) -> Response:
    """Revokes the access token this request carries."""
    _user_id, session = session_of(tenant)
    service.revoke_session(db, session, utc_now())
    return Response(status_code=204)


@router.post("/totp", response_model=TotpSetup, responses=SESSION_ERRORS)
def start_totp(tenant: CurrentTenant, db: Db) -> TotpSetup:
    """A new TOTP secret (RFC 6238, 30 s, 6 digits); on after confirming a code of it."""
    return service.start_totp(db, session_of(tenant)[0])


@router.post("/totp/confirm", status_code=204, response_class=Response, responses=SESSION_ERRORS)
def confirm_totp(body: OtpBody, tenant: CurrentTenant, db: Db) -> Response:
    service.set_totp(db, session_of(tenant)[0], body.otp, utc_now(), on=True)
    return Response(status_code=204)


@router.delete("/totp", status_code=204, response_class=Response, responses=SESSION_ERRORS)
def stop_totp(body: OtpBody, tenant: CurrentTenant, db: Db) -> Response:
    service.set_totp(db, session_of(tenant)[0], body.otp, utc_now(), on=False)
    return Response(status_code=204)
