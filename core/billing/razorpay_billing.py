"""Razorpay Subscriptions through the official `razorpay` SDK: webhooks verified by
`razorpay.Utility.verify_webhook_signature` (hex HMAC-SHA256 of the raw body), the event's id
from its `X-Razorpay-Event-Id` header. The company is the subscription's `notes.company_id`
(set when the subscription is created here); a refund names only its payment, which the
charge it refunds was recorded under. Razorpay has no customer portal: the subscription's own
link (`short_url`) is where the owner pays or changes the card."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import razorpay
import requests
from razorpay.errors import (
    BadRequestError,
    GatewayError,
    ServerError,
    SignatureVerificationError,
)

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

# the subscription's lifecycle in order: within one second a later step ranks higher
KINDS: dict[str, Fact | None] = {
    "subscription.activated": "active",
    "subscription.charged": "active",
    "subscription.pending": "past_due",  # a charge failed; Razorpay retries
    "subscription.halted": "unpaid",  # the retries ran out
    "subscription.cancelled": "cancelled",
    "subscription.completed": "cancelled",  # every paid cycle is over
    "refund.processed": None,
}
RANKS = {kind: rank for rank, kind in enumerate(KINDS)}
CYCLES = 120  # a subscription renews monthly for ten years unless cancelled


SDK_ERRORS = (BadRequestError, GatewayError, ServerError, requests.RequestException)


class RazorpayBilling:
    name: Provider = "razorpay"

    def __init__(self, settings: Settings) -> None:
        self.secret = settings.razorpay_webhook_secret
        self.plans = settings.razorpay_plans
        options = {"base_url": settings.razorpay_api_base} if settings.razorpay_api_base else {}
        self.client = razorpay.Client(
            auth=(settings.razorpay_key_id, settings.razorpay_key_secret), **options
        )

    def verified(self, body: bytes, headers: Mapping[str, str]) -> Event | None:
        try:
            self.client.utility.verify_webhook_signature(
                body.decode("utf-8", "replace"),
                headers.get("x-razorpay-signature", ""),
                self.secret,
            )
        except SignatureVerificationError as exc:
            raise BadSignature(str(exc)) from exc
        try:
            payload = json.loads(body)
        except ValueError as exc:
            raise UnreadableEvent(f"the body is no JSON event: {exc}") from exc
        event_id = headers.get("x-razorpay-event-id")
        if not event_id:
            raise UnreadableEvent("the X-Razorpay-Event-Id header is missing")
        return self.read(payload, event_id)

    def read(self, payload: dict[str, Any], event_id: str) -> Event | None:
        kind = str(payload.get("event", ""))
        if kind not in KINDS:
            return None
        entities = {name: part.get("entity") or {} for name, part in payload["payload"].items()}
        common: dict[str, Any] = {
            "provider": self.name,
            "event_id": event_id,
            "kind": kind,
            "at": from_unix(payload["created_at"]),
            "rank": RANKS[kind],
        }
        if kind == "refund.processed":
            refund = entities["refund"]
            return Event(
                **common,
                company_id=(refund.get("notes") or {}).get("company_id", ""),
                invoice=Invoice(
                    invoice_id=str(refund["payment_id"]),
                    number=str(refund["id"]),
                    status="refunded",
                    amount=-int(refund.get("amount") or 0),
                    currency=str(refund.get("currency", "")).upper(),
                    created_at=from_unix(refund.get("created_at")) or common["at"],
                ),
            )
        sub = entities["subscription"]
        fact = KINDS[kind]
        period_end = from_unix(sub.get("current_end"))
        ends_at = None
        if fact == "cancelled":
            ends_at = period_end or from_unix(sub.get("ended_at"))
        elif fact == "unpaid":
            ends_at = common["at"]
        payment = entities.get("payment")
        return Event(
            **common,
            company_id=(sub.get("notes") or {}).get("company_id", ""),
            customer_id=sub.get("customer_id"),
            subscription_id=sub.get("id"),
            fact=fact,
            ends_at=ends_at,
            plan=plan_of(self.plans, sub.get("plan_id")),
            period_end=period_end,
            invoice=Invoice(
                invoice_id=str(payment["id"]),
                number=payment.get("invoice_id"),
                status="paid",
                amount=int(payment.get("amount") or 0),
                currency=str(payment.get("currency", "")).upper(),
                created_at=from_unix(payment.get("created_at")) or common["at"],
                url=sub.get("short_url"),
            )
            if kind == "subscription.charged" and payment
            else None,
        )

    def checkout(self, company_id: str, plan: str, email: str, return_url: str) -> str:
        plan_id = price_of(self.plans, plan, "RAZORPAY_PLANS")
        with calling("Razorpay", SDK_ERRORS):
            made = self.client.subscription.create(
                {
                    "plan_id": plan_id,
                    "total_count": CYCLES,
                    "customer_notify": 1,
                    "notes": {"company_id": company_id, "email": email},
                }
            )
        return str(made["short_url"])

    def manage(self, account: Account, return_url: str) -> str:
        if not account.subscription_id:
            raise NoSubscription("no Razorpay subscription yet: subscribe through checkout first")
        with calling("Razorpay", SDK_ERRORS):
            found = self.client.subscription.fetch(account.subscription_id)
        return str(found["short_url"])

    def cancel(self, account: Account, reason: str | None) -> None:
        if not account.subscription_id:
            raise NoSubscription("no Razorpay subscription to cancel")
        with calling("Razorpay", SDK_ERRORS):
            self.client.subscription.cancel(account.subscription_id, {"cancel_at_cycle_end": 1})
