"""Account routes: signup, API keys, company settings. HTTP in, api/accounts/service.py, out."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, Response

from api.accounts import service
from api.accounts.service import (
    ApiKeyCreated,
    ApiKeyList,
    ApiKeyRequest,
    CancelRequest,
    CompanySettings,
    CompanyView,
    Me,
    MeServer,
    SignupRequest,
    SignupResponse,
    SubscriptionView,
)
from api.auth.passwords import hash_password
from api.deps import Audit, Context, CurrentTenant, Db, client_ip
from api.policy import Role
from core.accounts import subscription
from core.clock import utc_now
from core.errors import ApiError, error_responses
from core.mail import mail_configured
from core.rate_limit import RateLimiter, enforce

router = APIRouter(prefix="/v1", tags=["accounts"])
AUTHENTICATED = error_responses(401, 404, 422)


@router.post(
    "/signup",
    status_code=201,
    response_model=SignupResponse,
    responses=error_responses(403, 409, 422, 429),
)
def signup(body: SignupRequest, request: Request, context: Context) -> SignupResponse:
    """A new company, its owner and a first API key (shown once)."""
    if not context.settings.signup_enabled:
        raise ApiError(403, "signup_disabled", "signup is switched off on this server")
    limiter: RateLimiter = request.app.state.signup_limiter
    enforce(limiter, request.client.host if request.client else "", "signups from this address")
    password_hash = hash_password(body.password)  # before the transaction: no connection held
    with context.engine.begin() as db:
        return service.create_company(
            db, body, password_hash, context.master_key, utc_now(), client_ip(request)
        )


@router.post("/api-keys", status_code=201, response_model=ApiKeyCreated, responses=AUTHENTICATED)
def create_api_key(
    body: ApiKeyRequest, tenant: CurrentTenant, db: Db, audit: Audit
) -> ApiKeyCreated:
    """A new key; its secret is in this answer only."""
    key = service.issue_api_key(db, tenant.company.id, body.name, body.role)
    audit("api_key.created", key.id, {"role": key.role})
    return key


@router.get("/api-keys", response_model=ApiKeyList, responses=AUTHENTICATED)
def list_api_keys(tenant: CurrentTenant, db: Db) -> ApiKeyList:
    return ApiKeyList(items=service.list_api_keys(db, tenant.company.id))


@router.delete(
    "/api-keys/{key_id}", status_code=204, response_class=Response, responses=AUTHENTICATED
)
def revoke_api_key(key_id: str, tenant: CurrentTenant, db: Db, audit: Audit) -> Response:
    service.revoke_api_key(db, tenant.company.id, key_id, utc_now())
    audit("api_key.revoked", key_id)
    return Response(status_code=204)


@router.get("/company", response_model=CompanyView, responses=AUTHENTICATED)
def company_settings(tenant: CurrentTenant, db: Db) -> CompanyView:
    """The company's settings and subscription as the settings page shows them (admin)."""
    return service.company_view(db, tenant.company.id, utc_now())


@router.patch("/company", response_model=CompanyView, responses=AUTHENTICATED)
def update_company(
    body: CompanySettings, tenant: CurrentTenant, db: Db, audit: Audit
) -> CompanyView:
    """Company settings: when a silent device is stale (admin); name, country, time zone,
    privacy contact, the plan and how long data is kept (owner)."""
    if body.owner_fields() and tenant.role < Role.owner:
        raise ApiError(
            403,
            "forbidden",
            f"changing {', '.join(body.owner_fields())} needs the owner role; "
            f"the caller is {tenant.role.name}",
        )
    changed = service.update_company(db, tenant.company.id, body, utc_now())
    if body.model_fields_set:
        audit("company.updated", tenant.company.id, body.model_dump(include=body.model_fields_set))
    return changed


@router.post("/company/cancel", response_model=SubscriptionView, responses=AUTHENTICATED)
def cancel_subscription(
    tenant: CurrentTenant, db: Db, audit: Audit, body: CancelRequest | None = None
) -> SubscriptionView:
    """Renewal stops; everything works until `period_end`, then the company is deactivated and
    `export_grace_days` later purged. The reason, if given, is kept in the audit log."""
    reason = body.reason if body else None
    found = subscription.cancel(db, tenant.company.id, utc_now(), reason)
    audit(
        "subscription.cancelled",
        tenant.company.id,
        {"period_end": iso(found.period_end), "reason": reason},
    )
    return SubscriptionView(status=found.status, period_end=found.period_end)


@router.post("/company/reactivate", response_model=SubscriptionView, responses=AUTHENTICATED)
def reactivate_subscription(tenant: CurrentTenant, db: Db, audit: Audit) -> SubscriptionView:
    """Active again: a cancellation undone, or a deactivated company back before its purge."""
    found = subscription.reactivate(db, tenant.company.id, utc_now())
    audit("subscription.reactivated", tenant.company.id)
    return SubscriptionView(status=found.status, period_end=found.period_end)


def iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


@router.get("/me", response_model=Me, responses=AUTHENTICATED)
def who_am_i(tenant: CurrentTenant, context: Context, db: Db) -> Me:
    """The company and the credential of the caller: an integration's auth test."""
    settings = context.settings
    server = MeServer(
        push=settings.fcm_credentials_file is not None, mail=mail_configured(settings)
    )
    return service.me(db, tenant.company, tenant.key_id, tenant.user_id, server, utc_now())
