"""The subscription without a server: no company is deactivated or purged without a reason
(an active one whose `period_end` passed stays active: the bug of the hand-set date, tested
first), and the billing state machine ends in the same state whatever order and repetition its
events arrive in, the state a plain in-order machine reaches."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from core.accounts import subscription
from core.billing.state import Account, Event, Fact, apply, plan_rank, project
from core.controlplane import load_company
from tests.support.controlplane import add_company, migrated_sqlite

NOW = datetime(2027, 3, 1, 6, 0, tzinfo=UTC)
LONG_AGO = NOW - timedelta(days=40)


def test_only_a_company_ended_for_a_reason_is_deactivated_and_purged(tmp_path: Path) -> None:
    engine = migrated_sqlite(tmp_path)
    with engine.begin() as db:
        for status in ("active", "past_due", "trialing"):  # paying: whatever the period says
            add_company(db, status, LONG_AGO, status=status, period_end=LONG_AGO)
        add_company(db, "cancelled", LONG_AGO, status="cancelled", period_end=LONG_AGO)
        subscription.cancel(db, "cancelled", LONG_AGO, "moved to another tool")
        add_company(
            db,
            "unpaid",
            LONG_AGO,
            status="deactivated",
            ended_at=NOW - timedelta(days=2),
            end_reason="non_payment",
        )
    with engine.begin() as db:
        ended = subscription.newly_deactivated(db, NOW)
        assert [(e.company_id, e.reason) for e in ended] == [
            ("cancelled", "cancelled"),
            ("unpaid", "non_payment"),
        ]
        assert subscription.newly_deactivated(db, NOW) == []  # each announced once
        assert subscription.due_for_purge(db, NOW, 5) == ["cancelled"]  # 2 days < the grace
        assert subscription.due_for_purge(db, NOW + timedelta(days=3), 5) == [
            "cancelled",
            "unpaid",
        ]
        for status in ("active", "past_due", "trialing"):
            company = load_company(db, status)
            assert company is not None
            assert subscription.company_status(company, NOW + timedelta(days=400)) == status


def test_a_cancelled_company_follows_its_period_and_a_reactivation_clears_the_end(
    tmp_path: Path,
) -> None:
    engine = migrated_sqlite(tmp_path)
    end = NOW + timedelta(days=10)
    with engine.begin() as db:
        add_company(db, "c1", LONG_AGO, period_end=end)
        cancelled = subscription.cancel(db, "c1", NOW, "too dear")
        assert (cancelled.status, cancelled.ended_at, cancelled.cancel_reason) == (
            "cancelled",
            end,
            "too dear",
        )
        moved = subscription.set_period_end(db, "c1", end + timedelta(days=30), NOW)
        assert moved.ended_at == end + timedelta(days=30)  # the operator extended the period
        back = subscription.reactivate(db, "c1", NOW)
        assert (back.status, back.ended_at, back.cancel_reason) == ("active", None, None)
        assert subscription.due_for_purge(db, end + timedelta(days=400), 5) == []


# -- the state machine ------------------------------------------------------------------------

FACTS: tuple[Fact | None, ...] = ("trialing", "active", "past_due", "cancelled", "unpaid", None)
PLANS = ("basic", "basic_lead", None)
START = datetime(2027, 1, 1, tzinfo=UTC)


@st.composite
def timelines(draw: st.DrawFn) -> list[Event]:
    """Events as a provider emits them: time and the paid period never go back (within one
    instant a later step ranks higher)."""
    count = draw(st.integers(1, 12))
    at, period, rank = START, START + timedelta(days=30), 0
    made = []
    for index in range(count):
        step = draw(st.sampled_from([0, 1, 3600, 86400 * 31]))
        at += timedelta(seconds=step)
        rank = rank + 1 if step == 0 else draw(st.integers(0, 3))
        if draw(st.booleans()):
            period += timedelta(days=draw(st.sampled_from([0, 30])))
        fact = draw(st.sampled_from(FACTS))
        made.append(
            Event(
                provider="stripe",
                event_id=f"evt_{index:03d}",
                kind="customer.subscription.updated",
                at=at,
                rank=rank,
                company_id="c1",
                fact=fact,
                ends_at=period if fact in ("cancelled", "unpaid") else None,
                plan=draw(st.sampled_from(PLANS)),
                period_end=period if draw(st.booleans()) else None,
                customer_id=draw(st.sampled_from(["cus_1", "cus_2", None])),
                subscription_id=draw(st.sampled_from(["sub_1", None])),
                cancel_reason="too dear" if fact == "cancelled" else None,
            )
        )
    return made


def in_order(events: list[Event]) -> Account:
    """The reference: each event once, in the order they happened, the newest word winning."""
    account = Account(provider="stripe")
    for event in sorted({e.event_id: e for e in events}.values(), key=lambda e: e.key):
        if event.customer_id is not None:
            account = replace(account, customer_id=event.customer_id, customer_key=event.key)
        if event.subscription_id is not None:
            account = replace(
                account, subscription_id=event.subscription_id, subscription_key=event.key
            )
        if event.fact is not None:
            account = replace(
                account,
                status=event.fact,
                status_key=event.key,
                status_ends_at=event.ends_at,
                status_since=event.at,
                cancel_reason=event.cancel_reason,
            )
        if event.plan is not None:
            account = replace(account, latest_plan=event.plan, plan_key=event.key)
        if event.period_end is not None and event.period_end != account.period_end:
            account = replace(account, period_end=event.period_end, period_plan=event.plan)
        elif event.period_end is not None:
            best = max(account.period_plan, event.plan, key=plan_rank)
            account = replace(account, period_plan=best)
    return account


@given(timelines(), st.randoms(use_true_random=False), st.integers(0, 3))
def test_any_order_and_any_replay_end_in_the_in_order_state(
    events: list[Event], shuffler: random.Random, replays: int
) -> None:
    delivered = events + [shuffler.choice(events) for _ in range(replays)]
    shuffler.shuffle(delivered)
    account = Account(provider="stripe")
    for event in delivered:
        account = apply(account, event)
    expected = in_order(events)
    assert account == expected
    for now in (START, START + timedelta(days=45), START + timedelta(days=400)):
        assert project(account, now) == project(expected, now)


def event(index: int, fact: Fact | None, plan: str | None, period_end: datetime) -> Event:
    return Event(
        provider="razorpay",
        event_id=f"e{index}",
        kind="subscription.charged",
        at=START + timedelta(hours=index),
        rank=0,
        company_id="c1",
        fact=fact,
        plan=plan,
        period_end=period_end,
    )


def test_an_upgrade_applies_at_once_and_a_downgrade_at_the_periods_end() -> None:
    end = START + timedelta(days=30)
    account = apply(Account(provider="razorpay"), event(0, "active", "basic", end))
    account = apply(account, event(1, "active", "basic_lead", end))
    assert project(account, START + timedelta(days=1)).plan == "basic_lead"  # at once
    account = apply(account, event(2, "active", "basic", end))
    waiting = project(account, START + timedelta(days=2))
    assert (waiting.plan, waiting.pending_plan) == ("basic_lead", "basic")  # paid until `end`
    later = project(account, end)
    assert (later.plan, later.pending_plan) == ("basic", None)
    renewed = apply(account, event(3, "active", "basic", end + timedelta(days=30)))
    assert project(renewed, end - timedelta(days=1)).plan == "basic"  # a new period, paid lower
    assert project(renewed, end - timedelta(days=1)).status == "active"
