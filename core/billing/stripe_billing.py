"""Stripe Billing through the official `stripe` SDK: webhooks verified by
`stripe.Webhook.construct_event`, Checkout for the first subscription, the Customer Portal for
changes. Read as of API version 2025-03-31: a subscription's period lives on its items, an
invoice's subscription under `parent.subscription_details`. The company is the subscription's
`metadata.company_id` (Checkout sets it), or the customer's account when an object carries
only the customer (a refunded charge)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import stripe
from stripe._base_address import BaseAddresses

from core.billing.providers import (
    BadSignature,
    NoSubscription,
    UnreadableEvent,
    calling,
    from_unix,
    plan_of,
    price_of,
)
from core.billing.state import Account, Event, Fact, Invoice, Provider
from core.settings import Settings

# within one second, a later step of the lifecycle ranks higher (core/billing/state.py)
RANKS = {
    "checkout.session.completed": 0,
    "customer.subscription.created": 1,
    "invoice.payment_failed": 2,
    "invoice.paid": 3,
    "customer.subscription.updated": 4,
    "charge.refunded": 5,
    "customer.subscription.deleted": 6,
}
FACTS: dict[str, Fact] = {
    "trialing": "trialing",
    "active": "active",
    "past_due": "past_due",
    "incomplete": "past_due",  # the first payment is being retried
    "unpaid": "unpaid",
    "incomplete_expired": "unpaid",
    "paused": "unpaid",  # a trial ended without a payment method
}


def latest(times: Iterable[datetime | None]) -> datetime | None:
    return max((t for t in times if t is not None), default=None)


SDK_ERRORS = (stripe.StripeError,)


class StripeBilling:
    name: Provider = "stripe"

    def __init__(self, settings: Settings) -> None:
        self.secret = settings.stripe_webhook_secret
        self.prices = settings.stripe_prices
        base: BaseAddresses | None = (
            {"api": settings.stripe_api_base} if settings.stripe_api_base else None
        )
        self.client = stripe.StripeClient(
            settings.stripe_api_key or "sk_unset", base_addresses=base, max_network_retries=2
        )

    def verified(self, body: bytes, headers: Mapping[str, str]) -> Event | None:
        try:
            stripe.Webhook.construct_event(body, headers.get("stripe-signature"), self.secret)
        except stripe.SignatureVerificationError as exc:
            raise BadSignature(str(exc)) from exc
        except ValueError as exc:
            raise UnreadableEvent(f"the body is no JSON event: {exc}") from exc
        return self.read(json.loads(body))

    def read(self, payload: dict[str, Any]) -> Event | None:
        kind = str(payload.get("type", ""))
        if kind not in RANKS:
            return None
        obj = payload["data"]["object"]
        common: dict[str, Any] = {
            "provider": self.name,
            "event_id": str(payload["id"]),
            "kind": kind,
            "at": from_unix(payload["created"]),
            "rank": RANKS[kind],
            "customer_id": obj.get("customer"),
        }
        if kind == "checkout.session.completed":
            company = obj.get("client_reference_id") or (obj.get("metadata") or {}).get(
                "company_id"
            )
            return Event(
                **common, company_id=company or "", subscription_id=obj.get("subscription")
            )
        if kind.startswith("customer.subscription."):
            return self.subscription(common, obj, deleted=kind.endswith(".deleted"))
        if kind.startswith("invoice."):
            return self.invoice(common, obj, paid=kind == "invoice.paid")
        refunded = int(obj.get("amount_refunded") or 0)
        return Event(
            **common,
            company_id=(obj.get("metadata") or {}).get("company_id", ""),
            invoice=Invoice(
                invoice_id=str(obj["id"]),
                number=None,
                status="refunded",
                amount=-refunded,
                currency=str(obj.get("currency", "")).upper(),
                created_at=common["at"],
                url=obj.get("receipt_url"),
            ),
        )

    def subscription(self, common: dict[str, Any], obj: dict[str, Any], deleted: bool) -> Event:
        items = (obj.get("items") or {}).get("data") or [{}]
        period_end = latest(from_unix(i.get("current_period_end")) for i in items)
        price = (items[0].get("price") or {}).get("id")
        details = obj.get("cancellation_details") or {}
        fact: Fact
        ends_at = None
        if deleted or obj.get("status") == "canceled":
            unpaid = details.get("reason") == "payment_failed"
            fact = "unpaid" if unpaid else "cancelled"
            ends_at = from_unix(obj.get("ended_at")) if unpaid else period_end
        elif obj.get("cancel_at_period_end") or obj.get("cancel_at"):
            fact, ends_at = "cancelled", from_unix(obj.get("cancel_at")) or period_end
        else:
            fact = FACTS.get(str(obj.get("status")), "past_due")
        reason = details.get("comment") or details.get("feedback")
        return Event(
            **common,
            company_id=(obj.get("metadata") or {}).get("company_id", ""),
            subscription_id=obj.get("id"),
            fact=fact,
            ends_at=ends_at,
            plan=plan_of(self.prices, price),
            period_end=period_end,
            cancel_reason=reason if fact == "cancelled" else None,
        )

    def invoice(self, common: dict[str, Any], obj: dict[str, Any], paid: bool) -> Event:
        parent = (obj.get("parent") or {}).get("subscription_details") or {}
        lines = (obj.get("lines") or {}).get("data") or []
        period_end = latest(from_unix((line.get("period") or {}).get("end")) for line in lines)
        prices = [
            ((line.get("pricing") or {}).get("price_details") or {}).get("price") for line in lines
        ]
        plans = [plan_of(self.prices, price) for price in prices]
        return Event(
            **common,
            company_id=(parent.get("metadata") or {}).get("company_id", ""),
            subscription_id=parent.get("subscription"),
            fact="active" if paid else "past_due",
            plan=next((plan for plan in reversed(plans) if plan), None),
            period_end=period_end if paid else None,
            invoice=Invoice(
                invoice_id=str(obj["id"]),
                number=obj.get("number"),
                status="paid" if paid else "failed",
                amount=int(obj.get("amount_paid" if paid else "amount_due") or 0),
                currency=str(obj.get("currency", "")).upper(),
                created_at=from_unix(obj.get("created")) or common["at"],
                url=obj.get("hosted_invoice_url"),
            ),
        )

    def checkout(self, company_id: str, plan: str, email: str, return_url: str) -> str:
        price = price_of(self.prices, plan, "STRIPE_PRICES")
        with calling("Stripe", SDK_ERRORS):
            session = self.client.v1.checkout.sessions.create(
                {
                    "mode": "subscription",
                    "line_items": [{"price": price, "quantity": 1}],
                    "client_reference_id": company_id,
                    "customer_email": email,
                    "metadata": {"company_id": company_id},
                    "subscription_data": {"metadata": {"company_id": company_id}},
                    "success_url": return_url,
                    "cancel_url": return_url,
                }
            )
        return str(session.url)

    def manage(self, account: Account, return_url: str) -> str:
        if not account.customer_id:
            raise NoSubscription("no Stripe customer yet: subscribe through checkout first")
        with calling("Stripe", SDK_ERRORS):
            session = self.client.v1.billing_portal.sessions.create(
                {"customer": account.customer_id, "return_url": return_url}
            )
        return str(session.url)

    def cancel(self, account: Account, reason: str | None) -> None:
        if not account.subscription_id:
            raise NoSubscription("no Stripe subscription to cancel")
        with calling("Stripe", SDK_ERRORS):
            self.client.v1.subscriptions.update(
                account.subscription_id,
                {"cancel_at_period_end": True, "cancellation_details": {"comment": reason or ""}},
            )
