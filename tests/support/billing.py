"""Provider events for tests: the saved examples (tests/fixtures/billing) filled in for a test's
company and times, and signed as each provider signs them, so the SDKs' own verification
code runs on them unchanged."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent.parent / "fixtures" / "billing"
STRIPE_SECRET = "whsec_test_closecall"
RAZORPAY_SECRET = "razorpay webhook secret"
STRIPE_PRICES = {"basic": "price_1QjBasic", "basic_lead": "price_1QjBasicLead"}
RAZORPAY_PLANS = {"basic": "plan_NBasic0000001", "basic_lead": "plan_NLead00000001"}


def unix(at: datetime) -> int:
    return int(at.timestamp())


def example(provider: str, kind: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / provider / f"{kind}.json").read_text())
    return loaded


def filled(document: Any, values: dict[str, Any]) -> Any:
    """The document with every string equal to a key of `values` replaced by its value."""
    if isinstance(document, dict):
        return {key: filled(value, values) for key, value in document.items()}
    if isinstance(document, list):
        return [filled(value, values) for value in document]
    if isinstance(document, str) and document in values:
        return values[document]
    return document


def stripe_event(
    kind: str,
    event_id: str,
    at: datetime,
    company_id: str,
    plan: str = "basic",
    period_end: datetime | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A Stripe event of `kind` at `at` for `company_id` on `plan`, its period ending at
    `period_end`; `fields` set on its object (a subscription's status, cancel_at_period_end)."""
    event = filled(example("stripe", kind), {"COMPANY": company_id, "PRICE": STRIPE_PRICES[plan]})
    event["id"], event["created"] = event_id, unix(at)
    obj = event["data"]["object"]
    obj["created"] = unix(at)
    if period_end is not None:
        for item in (obj.get("items") or {}).get("data", []):
            item["current_period_end"] = unix(period_end)
        for line in (obj.get("lines") or {}).get("data", []):
            line["period"]["end"] = unix(period_end)
    obj.update(copy.deepcopy(fields))
    return event


def stripe_signed(
    event: dict[str, Any], secret: str = STRIPE_SECRET
) -> tuple[bytes, dict[str, str]]:
    """The body and the `Stripe-Signature` header: t=<unix>,v1=<HMAC-SHA256 of "t.body">."""
    body = json.dumps(event)
    stamp = int(time.time())
    mac = hmac.new(secret.encode(), f"{stamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return body.encode(), {
        "Stripe-Signature": f"t={stamp},v1={mac}",
        "Content-Type": "application/json",
    }


def razorpay_event(
    kind: str,
    at: datetime,
    company_id: str,
    plan: str = "basic",
    period_end: datetime | None = None,
    **fields: Any,
) -> dict[str, Any]:
    event = filled(example("razorpay", kind), {"COMPANY": company_id, "PLAN": RAZORPAY_PLANS[plan]})
    event["created_at"] = unix(at)
    for name in ("payment", "refund"):  # made when the event happened
        if name in event["payload"]:
            event["payload"][name]["entity"]["created_at"] = unix(at)
    subscription = event["payload"].get("subscription", {}).get("entity")
    if subscription is not None:
        if period_end is not None:
            subscription["current_end"] = subscription["charge_at"] = unix(period_end)
        subscription.update(copy.deepcopy(fields))
    return event


def razorpay_signed(
    event: dict[str, Any], event_id: str, secret: str = RAZORPAY_SECRET
) -> tuple[bytes, dict[str, str]]:
    """The body, its `X-Razorpay-Signature` (hex HMAC-SHA256 of the body) and event id."""
    body = json.dumps(event).encode()
    mac = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return body, {
        "X-Razorpay-Signature": mac,
        "X-Razorpay-Event-Id": event_id,
        "Content-Type": "application/json",
    }
