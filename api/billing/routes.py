"""Billing (API.md "Subscription"): the providers' signed webhooks, the subscription as the
owner's billing page shows it, and the links to pay, change or cancel at the provider. HTTP in,
core/billing, HTTP out."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Literal, TypeVar

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from api.deps import Audit, Context, CurrentTenant, Db
from core.accounts.subscription import PLANS, Status, cancel, reactivate, subscription
from core.billing.providers import (
    BadSignature,
    BillingProvider,
    NoSubscription,
    ProviderUnavailable,
    UnreadableEvent,
)
from core.billing.state import Provider
from core.billing.store import Outcome, account_of, receive
from core.clock import iso_or_none, utc_now
from core.controlplane import billing_invoices, users
from core.errors import ApiError, error_responses
from core.settings import MissingSetting

log = logging.getLogger(__name__)
router = APIRouter(tags=["billing"])
INVOICES_SHOWN = 12
T = TypeVar("T")


def providers(request: Request) -> dict[Provider, BillingProvider]:
    found: dict[Provider, BillingProvider] = request.app.state.billing
    return found


Providers = Annotated[dict[Provider, BillingProvider], Depends(providers)]


def provider_named(found: dict[Provider, BillingProvider], name: Provider) -> BillingProvider:
    if name not in found:
        raise ApiError(
            404,
            "billing_not_configured",
            f"{name} billing is not set up on this server: the operator sets "
            f"CLOSECALL_{name.upper()}_WEBHOOK_SECRET (docs/BILLING.md)",
        )
    return found[name]


class WebhookAnswer(BaseModel):
    status: Outcome = Field(description="applied, duplicate (seen before) or ignored")


@router.post(
    "/v1/billing/{provider}/webhook",
    response_model=WebhookAnswer,
    responses=error_responses(400, 404),
)
async def provider_webhook(
    provider: Provider, request: Request, context: Context, found: Providers
) -> WebhookAnswer:
    """A provider's event, verified by its SDK; each event id applies once, and an event older
    than what it would change is ignored."""
    billing = provider_named(found, provider)
    body = await request.body()
    try:
        event = billing.verified(body, request.headers)
    except BadSignature as exc:
        client = request.client.host if request.client else "-"
        log.warning("billing: a %s webhook from %s failed its signature: %s", provider, client, exc)
        raise ApiError(
            400,
            "bad_signature",
            f"the {provider} signature does not verify with this server's secret",
        ) from exc
    except UnreadableEvent as exc:
        raise ApiError(400, "bad_event", str(exc)) from exc
    if event is None:
        return WebhookAnswer(status="ignored")

    def apply() -> Outcome:
        with context.engine.begin() as conn:
            return receive(conn, event, utc_now(), context.settings.public_url).outcome

    return WebhookAnswer(status=await run_in_threadpool(apply))


class InvoiceView(BaseModel):
    id: str
    number: str | None
    status: Literal["paid", "failed", "refunded", "open"]
    amount: int = Field(description="in the currency's smallest unit (cents, paise); refunds < 0")
    currency: str
    created_at: datetime
    url: str | None = Field(description="the provider's page of the invoice or receipt")


class SubscriptionDetails(BaseModel):
    plan: str
    status: Status
    period_end: datetime | None = Field(description="the end of the period paid for")
    ended_at: datetime | None = Field(
        description="deactivated from then on (only a cancelled or unpaid company has one)"
    )
    provider: Provider | None = Field(description="who bills the company (null: the operator)")
    pending_plan: str | None = Field(description="a downgrade waiting for the period's end")
    cancel_reason: str | None
    providers: list[Provider] = Field(description="the providers this server can bill through")
    invoices: list[InvoiceView] = Field(description=f"the latest {INVOICES_SHOWN}, newest first")


@router.get(
    "/v1/company/subscription",
    response_model=SubscriptionDetails,
    responses=error_responses(401, 403),
)
def subscription_details(tenant: CurrentTenant, db: Db, found: Providers) -> SubscriptionDetails:
    """Plan, state, renewal and the latest invoices, as the owner's billing page shows them."""
    company_id = tenant.company.id
    current = subscription(db, company_id, utc_now())
    account = account_of(db, company_id)
    rows = db.execute(
        sa.select(billing_invoices)
        .where(billing_invoices.c.company_id == company_id)
        .order_by(billing_invoices.c.created_at.desc(), billing_invoices.c.invoice_id)
        .limit(INVOICES_SHOWN)
    )
    return SubscriptionDetails(
        plan=current.plan,
        status=current.status,
        period_end=current.period_end,
        ended_at=current.ended_at,
        provider=account.provider if account else None,
        pending_plan=current.pending_plan,
        cancel_reason=current.cancel_reason,
        providers=sorted(found),
        invoices=[
            InvoiceView(
                id=row.invoice_id,
                number=row.number,
                status=row.status,
                amount=row.amount,
                currency=row.currency,
                created_at=row.created_at,
                url=row.url,
            )
            for row in rows
        ],
    )


class CheckoutRequest(BaseModel):
    provider: Provider
    plan: Literal["basic", "basic_lead"] = Field(description=f"one of {', '.join(PLANS)}")


class Link(BaseModel):
    url: str = Field(description="the provider's page: open it in the browser")


def at_provider(call: Callable[[], T]) -> T:
    """A call to the provider's API, its refusals as the API's errors."""
    try:
        return call()
    except NoSubscription as exc:
        raise ApiError(409, "not_subscribed", str(exc)) from exc
    except MissingSetting as exc:
        raise ApiError(409, "plan_not_offered", str(exc)) from exc
    except ProviderUnavailable as exc:
        raise ApiError(502, "provider_unavailable", f"{exc}; try again in a minute") from exc


def owner_email(db: Db, tenant: CurrentTenant) -> str:
    found = db.execute(sa.select(users.c.email).where(users.c.id == tenant.user_id)).scalar()
    if found is None:
        raise ApiError(403, "user_only", "billing is the owner's: sign in as the owner")
    return str(found)


def console_return(context: Context) -> str:
    return f"{context.settings.public_url}/console/#/company"


@router.post("/v1/billing/checkout", response_model=Link, responses=error_responses(404, 409, 502))
def checkout(
    body: CheckoutRequest,
    tenant: CurrentTenant,
    db: Db,
    context: Context,
    found: Providers,
    audit: Audit,
) -> Link:
    """The provider's page where the owner pays for a first subscription."""
    billing = provider_named(found, body.provider)
    if account_of(db, tenant.company.id) is not None:
        raise ApiError(
            409,
            "already_subscribed",
            "the company has a subscription: change it through POST /v1/billing/manage",
        )
    email = owner_email(db, tenant)
    url = at_provider(
        lambda: billing.checkout(tenant.company.id, body.plan, email, console_return(context))
    )
    audit("billing.checkout", tenant.company.id, {"provider": body.provider, "plan": body.plan})
    return Link(url=url)


@router.post("/v1/billing/manage", response_model=Link, responses=error_responses(404, 409, 502))
def manage(tenant: CurrentTenant, db: Db, context: Context, found: Providers) -> Link:
    """The provider's page where the owner changes the plan or the payment method."""
    account = account_of(db, tenant.company.id)
    if account is None:
        raise ApiError(
            409,
            "not_subscribed",
            "no subscription at a provider: start one with POST /v1/billing/checkout",
        )
    billing = provider_named(found, account.provider)
    return Link(url=at_provider(lambda: billing.manage(account, console_return(context))))


class CancelRequest(BaseModel):
    reason: str | None = Field(
        default=None, max_length=1000, description="why (kept with the subscription and audited)"
    )


class SubscriptionView(BaseModel):
    status: Status
    period_end: datetime | None = Field(description="the end of the period paid for")


@router.post(
    "/v1/company/cancel",
    response_model=SubscriptionView,
    responses=error_responses(401, 403, 404, 502),
)
def cancel_subscription(
    tenant: CurrentTenant, db: Db, audit: Audit, found: Providers, body: CancelRequest | None = None
) -> SubscriptionView:
    """Renewal stops; everything works until `period_end`, then the company is deactivated and
    `export_grace_days` later purged. Billed by a provider, the provider is told and its event
    changes the status; billed by the operator, it changes at once."""
    reason = body.reason if body else None
    company_id = tenant.company.id
    account = account_of(db, company_id)
    if account is not None:
        billing = provider_named(found, account.provider)
        at_provider(lambda: billing.cancel(account, reason))
        current = subscription(db, company_id, utc_now())
    else:
        current = cancel(db, company_id, utc_now(), reason)
    audit(
        "subscription.cancelled",
        company_id,
        {
            "period_end": iso_or_none(current.period_end),
            "reason": reason,
            "provider": account.provider if account else None,
        },
    )
    return SubscriptionView(status=current.status, period_end=current.period_end)


@router.post(
    "/v1/company/reactivate",
    response_model=SubscriptionView,
    responses=error_responses(401, 403, 409),
)
def reactivate_subscription(tenant: CurrentTenant, db: Db, audit: Audit) -> SubscriptionView:
    """Active again: a cancellation undone, or a deactivated company back before its purge
    (billed by the operator; a provider's subscription is renewed at the provider)."""
    if account_of(db, tenant.company.id) is not None:
        raise ApiError(
            409,
            "billed_by_provider",
            "the provider bills this company: renew through POST /v1/billing/manage, or "
            "subscribe again through POST /v1/billing/checkout once it ended",
        )
    found = reactivate(db, tenant.company.id, utc_now())
    audit("subscription.reactivated", tenant.company.id)
    return SubscriptionView(status=found.status, period_end=found.period_end)
