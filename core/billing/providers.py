"""The billing provider interface (ARCHITECTURE.md "Billing"): each provider verifies and reads
its own signed webhooks through its official SDK and makes the links the owner follows to pay,
change or cancel. `configured` builds those whose secrets are set; a self-hosted company
without a provider never expires (the operator's commands bill it by hand)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Protocol

from core.billing.state import Account, Event, Provider
from core.settings import MissingSetting, Settings


class BadSignature(ValueError):
    """The webhook's signature does not verify with the configured secret."""


class UnreadableEvent(ValueError):
    """A verified body that is not an event this product reads (the message says what)."""


class ProviderUnavailable(RuntimeError):
    """The provider's API refused or could not be reached (the message says which)."""


class NoSubscription(LookupError):
    """The company has no subscription at the provider yet (or no longer)."""


class Links(Protocol):
    def checkout(self, company_id: str, plan: str, email: str, return_url: str) -> str:
        """Where the owner pays for a first subscription to `plan`."""
        ...

    def manage(self, account: Account, return_url: str) -> str:
        """Where the owner changes the plan or the payment method."""
        ...

    def cancel(self, account: Account, reason: str | None) -> None:
        """Renewal stops at the period's end; the provider's event confirms it."""
        ...


class BillingProvider(Links, Protocol):
    name: Provider

    def verified(self, body: bytes, headers: Mapping[str, str]) -> Event | None:
        """The event a signed webhook carries (None: a kind this product does not use).
        Raises BadSignature, UnreadableEvent."""
        ...


def configured(settings: Settings) -> dict[Provider, BillingProvider]:
    from core.billing.razorpay_billing import RazorpayBilling
    from core.billing.stripe_billing import StripeBilling

    found: dict[Provider, BillingProvider] = {}
    if settings.stripe_webhook_secret:
        found["stripe"] = StripeBilling(settings)
    if settings.razorpay_webhook_secret:
        found["razorpay"] = RazorpayBilling(settings)
    return found


def from_unix(seconds: object) -> datetime | None:
    """A provider's time (unix seconds) as an aware instant; None when absent."""
    return datetime.fromtimestamp(int(seconds), UTC) if isinstance(seconds, int) else None


@contextmanager
def calling(provider: str, errors: tuple[type[Exception], ...]) -> Iterator[None]:
    """A call to a provider's API: its SDK's refusals and network errors as one error."""
    try:
        yield
    except errors as exc:
        raise ProviderUnavailable(f"{provider} answered: {exc}") from exc


def plan_of(prices: Mapping[str, str], price: object) -> str | None:
    """The product's plan a provider's price (or plan) id stands for (settings map them)."""
    return next((plan for plan, id_ in prices.items() if id_ == price), None)


def price_of(prices: Mapping[str, str], plan: str, variable: str) -> str:
    if plan not in prices:
        raise MissingSetting(f"no price for the plan {plan!r}: set it in CLOSECALL_{variable}")
    return prices[plan]
