"""The billing state machine: a provider's events in, a company's subscription out.

Providers deliver webhooks at least once and in no promised order, so each event is applied by
field: a field keeps the value of the newest event that set it, newest by the provider's own
time, then a rank of the event's kind, then its id (`Event.key`); the paid period only moves
forward, and the plan paid for it is the highest any event of that period named. The state is
therefore a function of the set of events seen, whatever their order or repetition.

What it means for the product (`Projection`): trialing, active and past-due companies work
whatever the period says; a cancelled one works until its period ends (or until the provider
ended it, if earlier); one the provider stopped for non-payment is deactivated from then on.
An upgrade applies at once (the provider prorates); a downgrade waits for the period's end."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

# what a provider said about the subscription, in the product's words
Fact = Literal["trialing", "active", "past_due", "cancelled", "unpaid"]
Provider = Literal["stripe", "razorpay"]
# plans from the lowest: an upgrade moves right
PLAN_ORDER = ("basic", "basic_lead")


def plan_rank(plan: str | None) -> int:
    return PLAN_ORDER.index(plan) if plan in PLAN_ORDER else -1


@dataclass(frozen=True, slots=True)
class Invoice:
    invoice_id: str
    number: str | None
    status: str  # paid | open | failed | refunded
    amount: int  # in the currency's smallest unit
    currency: str
    created_at: datetime
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """One provider event, normalised. `fact` is None for events that say nothing of the
    subscription's state (a checkout linking the customer, a refund)."""

    provider: Provider
    event_id: str
    kind: str  # the provider's own name, e.g. invoice.payment_failed
    at: datetime  # the provider's time of the event
    rank: int  # orders the kinds of one instant: a later step of the lifecycle ranks higher
    company_id: str
    fact: Fact | None = None
    ends_at: datetime | None = None  # with `cancelled` or `unpaid`: when the service stops
    plan: str | None = None
    period_end: datetime | None = None
    customer_id: str | None = None
    subscription_id: str | None = None
    cancel_reason: str | None = None
    invoice: Invoice | None = None

    @property
    def key(self) -> str:
        """Sorts as the events happened: the provider's instant, the kind's rank, the id."""
        return f"{self.at.timestamp():015.3f}|{self.rank:02d}|{self.event_id}"


@dataclass(frozen=True, slots=True)
class Account:
    """A company's subscription at its provider; each `*_key` is the key of the event that
    set the fields after it."""

    provider: Provider
    customer_id: str | None = None
    customer_key: str = ""
    subscription_id: str | None = None
    subscription_key: str = ""
    status: Fact | None = None
    status_key: str = ""
    status_ends_at: datetime | None = None
    status_since: datetime | None = None
    cancel_reason: str | None = None
    latest_plan: str | None = None
    plan_key: str = ""
    period_end: datetime | None = None
    period_plan: str | None = None


def apply(account: Account, event: Event) -> Account:
    """The account after `event`, which may be older than what the account already holds."""
    key = event.key
    if event.customer_id is not None and key > account.customer_key:
        account = replace(account, customer_id=event.customer_id, customer_key=key)
    if event.subscription_id is not None and key > account.subscription_key:
        account = replace(account, subscription_id=event.subscription_id, subscription_key=key)
    if event.fact is not None and key > account.status_key:
        account = replace(
            account,
            status=event.fact,
            status_key=key,
            status_ends_at=event.ends_at,
            status_since=event.at,
            cancel_reason=event.cancel_reason if event.fact == "cancelled" else None,
        )
    if event.plan is not None and key > account.plan_key:
        account = replace(account, latest_plan=event.plan, plan_key=key)
    if event.period_end is None:
        return account
    if account.period_end is None or event.period_end > account.period_end:
        return replace(account, period_end=event.period_end, period_plan=event.plan)
    if event.period_end == account.period_end and plan_rank(event.plan) > plan_rank(
        account.period_plan
    ):
        return replace(account, period_plan=event.plan)
    return account


Status = Literal["trialing", "active", "past_due", "cancelled", "deactivated"]


@dataclass(frozen=True, slots=True)
class Projection:
    """What the company's row holds (core/accounts/subscription.py reads it): the status as
    stored, when the company is deactivated (None: it is not going to be) and why, the plan in
    force and the one waiting for the period's end."""

    status: Status
    ended_at: datetime | None
    end_reason: str | None
    plan: str | None
    pending_plan: str | None
    period_end: datetime | None
    cancel_reason: str | None


def project(account: Account, now: datetime) -> Projection:
    status: Status
    ended_at: datetime | None = None
    end_reason: str | None = None
    if account.status == "cancelled":
        status, end_reason = "cancelled", "cancelled"
        ended_at = min(filter(None, (account.status_ends_at, account.period_end)), default=None)
        ended_at = ended_at or account.status_since
    elif account.status == "unpaid":
        status, end_reason = "deactivated", "non_payment"
        ended_at = account.status_ends_at or account.status_since
    else:
        status = account.status or "active"
    plan = account.latest_plan
    in_period = account.period_end is not None and now < account.period_end
    if in_period and plan_rank(account.period_plan) > plan_rank(plan):
        plan = account.period_plan  # paid for until the period ends: a downgrade waits
    pending = account.latest_plan if account.latest_plan != plan else None
    return Projection(
        status=status,
        ended_at=ended_at,
        end_reason=end_reason,
        plan=plan,
        pending_plan=pending,
        period_end=account.period_end,
        cancel_reason=account.cancel_reason,
    )
