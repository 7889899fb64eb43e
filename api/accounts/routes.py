"""Account routes: signup, API keys, company settings. HTTP in, api/accounts/service.py, out."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api.accounts import service
from api.accounts.service import (
    ApiKeyCreated,
    ApiKeyList,
    ApiKeyRequest,
    CompanySettings,
    CompanyView,
    Me,
    MeServer,
    SignupRequest,
    SignupResponse,
)
from api.auth.passwords import hash_password
from api.deps import Audit, Context, CurrentTenant, Db, client_ip
from api.policy import Role
from core.billing.store import account_of
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
    if "plan" in body.model_fields_set and account_of(db, tenant.company.id) is not None:
        raise ApiError(
            409,
            "billed_by_provider",
            "the provider bills this company: change the plan through POST /v1/billing/manage",
        )
    changed = service.update_company(db, tenant.company.id, body, utc_now())
    if body.model_fields_set:
        audit("company.updated", tenant.company.id, body.model_dump(include=body.model_fields_set))
    return changed


@router.get("/me", response_model=Me, responses=AUTHENTICATED)
def who_am_i(tenant: CurrentTenant, context: Context, db: Db) -> Me:
    """The company and the credential of the caller: an integration's auth test."""
    settings = context.settings
    server = MeServer(
        push=settings.fcm_credentials_file is not None, mail=mail_configured(settings)
    )
    return service.me(db, tenant.company, tenant.key_id, tenant.user_id, server, utc_now())
