"""Billing through the providers' own signing schemes (tests/support/billing.py): events shaped
as Stripe and Razorpay publish them, signed as they sign them, verified by their SDKs' code in
the report API. Renewals move the period; a failed payment gives past_due, a mail, then
recovery; a replayed or older event changes nothing; a downgrade waits for the period's end;
a deletion ends the company at its period's end and the purge follows the export window; an
active company whose period is long over is never purged. The links to pay, change and cancel
go to a local stub of each provider's API through the SDKs."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
import uvicorn
from fastapi.testclient import TestClient
from selenium.webdriver.common.by import By

from api.context import ApiContext
from core.accounts.subscription import subscription
from core.clickhouse import ClickHouse
from core.controlplane import mail_outbox, notifications
from deploy.local_stack import free_port
from streams.privacy.jobs import lifecycle
from tests.support.billing import (
    RAZORPAY_PLANS,
    RAZORPAY_SECRET,
    STRIPE_PRICES,
    STRIPE_SECRET,
    razorpay_event,
    razorpay_signed,
    stripe_event,
    stripe_signed,
)
from tests.support.browser import (
    chromium,
    open_page,
    screenshot_dir,
    sign_in,
    text_of,
    wait_for,
)
from tests.support.inprocess import api_client
from tests.support.receiver import Received, Receiver
from tests.support.services import PostgresDatabase
from tests.support.stack import OWNER_PASSWORD, eventually

CONSOLE = "https://calls.example"
NOW = datetime.now(UTC).replace(microsecond=0)
T0 = NOW - timedelta(days=50)  # the first period: T0 .. P1
P1 = T0 + timedelta(days=30)
P2 = NOW + timedelta(days=10)  # the period the tests end in


def provider_reply(request: Received) -> bytes:
    """What Stripe's and Razorpay's APIs answer, as far as the SDKs read it; the pages they
    link to are on the stub too (a browser here reaches no other host)."""
    pages = f"http://{request.headers['host']}"
    if request.path.startswith("/v1/checkout/sessions"):
        made = {"id": "cs_test_1", "object": "checkout.session"}
        return json.dumps(made | {"url": f"{pages}/c/pay/cs_test_1"}).encode()
    if request.path.startswith("/v1/billing_portal/sessions"):
        made = {"id": "bps_1", "object": "billing_portal.session"}
        return json.dumps(made | {"url": f"{pages}/p/session/test_1"}).encode()
    subscription_id = request.path.split("/")[3] if request.path.count("/") >= 3 else "sub_new"
    return json.dumps(
        {
            "id": subscription_id,
            "object": "subscription",
            "entity": "subscription",
            "status": "active",
            "short_url": f"{pages}/i/{subscription_id}",
        }
    ).encode()


@pytest.fixture
def provider_api() -> Iterator[Receiver]:
    started = Receiver(reply=provider_reply).start()
    yield started
    started.stop()


@dataclass
class Billing:
    client: TestClient
    context: ApiContext
    api: Receiver

    def company(self) -> Company:
        name = f"Bill{uuid.uuid4().hex[:6]}"
        email = f"owner@{name.lower()}.example"
        body = {"company_name": name, "country": "IN", "email": email, "password": OWNER_PASSWORD}
        made = self.client.post("/v1/signup", json=body)
        assert made.status_code == 201, made.text
        login = self.client.post(
            "/v1/auth/login", json={"email": email, "password": OWNER_PASSWORD}
        )
        owner = {"Authorization": f"Bearer {login.json()['access_token']}"}
        key = {"Authorization": f"Bearer {made.json()['api_key']}"}
        company_id = self.client.get("/v1/me", headers=key).json()["company"]["id"]
        return Company(company_id, name, email, owner, key)

    def stripe(self, event: dict[str, Any]) -> str:
        body, headers = stripe_signed(event)
        answer = self.client.post("/v1/billing/stripe/webhook", content=body, headers=headers)
        assert answer.status_code == 200, answer.text
        return str(answer.json()["status"])

    def razorpay(self, event: dict[str, Any], event_id: str) -> str:
        body, headers = razorpay_signed(event, event_id)
        answer = self.client.post("/v1/billing/razorpay/webhook", content=body, headers=headers)
        assert answer.status_code == 200, answer.text
        return str(answer.json()["status"])

    def details(self, company: Company) -> dict[str, Any]:
        answer = self.client.get("/v1/company/subscription", headers=company.owner)
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    def purged_at(self, at: datetime) -> list[str]:
        return lifecycle(self.context.engine, self.context.clickhouse, at, 5, CONSOLE)

    def status_at(self, company: Company, at: datetime) -> str:
        with self.context.engine.connect() as conn:
            return subscription(conn, company.id, at).status

    def told(self, company: Company) -> tuple[list[str], list[str]]:
        """The kinds of notifications and the subjects of mail the company's users got."""
        with self.context.engine.connect() as conn:
            kinds = conn.execute(
                sa.select(notifications.c.kind).where(notifications.c.company_id == company.id)
            ).scalars()
            subjects = conn.execute(
                sa.select(mail_outbox.c.subject).where(mail_outbox.c.recipient == company.email)
            ).scalars()
            return list(kinds), list(subjects)


@dataclass
class Company:
    id: str
    name: str
    email: str
    owner: dict[str, str]
    key: dict[str, str]


@pytest.fixture(params=["sqlite", "postgresql"])
def billing(
    request: pytest.FixtureRequest, chdb_store: ClickHouse, tmp_path: Path, provider_api: Receiver
) -> Iterator[Billing]:
    database = PostgresDatabase() if request.param == "postgresql" else None
    client, context = api_client(
        database.url if database else f"sqlite:///{tmp_path / 'control.db'}",
        chdb_store,
        tmp_path,
        allow_private=False,
        public_url=CONSOLE,
        stripe_api_key="sk_test_closecall",
        stripe_webhook_secret=STRIPE_SECRET,
        stripe_prices=STRIPE_PRICES,
        stripe_api_base=provider_api.url(""),
        razorpay_key_id="rzp_test_closecall",
        razorpay_key_secret="razorpay key secret",
        razorpay_webhook_secret=RAZORPAY_SECRET,
        razorpay_plans=RAZORPAY_PLANS,
        razorpay_api_base=provider_api.url(""),
    )
    with client:
        yield Billing(client, context, provider_api)
    context.engine.dispose()
    if database is not None:
        database.drop()


def test_stripe_drives_the_subscription_and_only_a_reason_purges(billing: Billing) -> None:
    acme, paying = billing.company(), billing.company()
    link = billing.client.post(
        "/v1/billing/checkout", json={"provider": "stripe", "plan": "basic"}, headers=acme.owner
    )
    assert link.json() == {"url": billing.api.url("/c/pay/cs_test_1")}, link.text
    sent = parse_qs(billing.api.received("/v1/checkout/sessions")[0].body.decode())
    assert sent["metadata[company_id]"] == [acme.id]
    assert sent["subscription_data[metadata][company_id]"] == [acme.id]
    assert sent["line_items[0][price]"] == [STRIPE_PRICES["basic"]]

    def subscribed(company: Company, prefix: str) -> None:
        for kind in ("checkout.session.completed", "customer.subscription.created", "invoice.paid"):
            event = stripe_event(kind, f"{prefix}{kind}", T0, company.id, period_end=P1)
            event["data"]["object"]["customer"] = f"cus_{prefix}"
            if kind != "invoice.paid":
                event["data"]["object"]["id" if "subscription" in kind else "subscription"] = (
                    f"sub_{prefix}"
                )
            assert billing.stripe(event) == "applied"

    subscribed(acme, "acme")
    subscribed(paying, "paying")  # never renewed here: its period ends at P1, long past
    first = billing.details(acme)
    assert (first["status"], first["provider"], first["plan"]) == ("active", "stripe", "basic")
    assert datetime.fromisoformat(first["period_end"]) == P1
    assert [(i["status"], i["amount"], i["currency"]) for i in first["invoices"]] == [
        ("paid", 4900, "USD")
    ]

    # the renewal fails: past_due, the owner told once, everything still works
    failed = stripe_event("invoice.payment_failed", "evt_failed", P1, acme.id, period_end=P2)
    failed["data"]["object"]["id"] = "in_renewal"
    assert billing.stripe(failed) == "applied"
    assert billing.details(acme)["status"] == "past_due"
    assert billing.client.get("/v1/employees", headers=acme.key).status_code == 200
    assert billing.stripe(failed) == "duplicate"
    kinds, subjects = billing.told(acme)
    assert kinds == ["billing.payment_failed"]
    assert subjects.count(f"A payment for {acme.name} failed") == 1

    # paid on the retry: active, and the period moved to P2
    paid = stripe_event("invoice.paid", "evt_paid", P1 + timedelta(days=2), acme.id, period_end=P2)
    paid["data"]["object"]["id"] = "in_renewal"
    assert billing.stripe(paid) == "applied"
    renewed = billing.details(acme)
    assert renewed["status"] == "active"
    assert datetime.fromisoformat(renewed["period_end"]) == P2
    assert [i["status"] for i in renewed["invoices"]] == ["paid", "paid"]  # the retried one paid

    # an older event delivered late changes nothing
    late = stripe_event(
        "customer.subscription.updated",
        "evt_late",
        P1 + timedelta(hours=1),
        acme.id,
        period_end=P2,
        status="past_due",
    )
    assert billing.stripe(late) == "applied"
    assert billing.details(acme)["status"] == "active"

    # an upgrade applies at once, a downgrade waits for the period's end
    def changed_to(plan: str, event_id: str, days_ago: int) -> dict[str, Any]:
        at = NOW - timedelta(days=days_ago)
        kind = "customer.subscription.updated"
        return stripe_event(kind, event_id, at, acme.id, plan=plan, period_end=P2)

    assert billing.stripe(changed_to("basic_lead", "evt_up", 2)) == "applied"
    assert billing.details(acme)["plan"] == "basic_lead"
    down = changed_to("basic", "evt_down", 1)
    assert billing.stripe(down) == "applied"
    waiting = billing.details(acme)
    assert (waiting["plan"], waiting["pending_plan"]) == ("basic_lead", "basic")
    assert billing.purged_at(P2 - timedelta(seconds=1)) == []
    assert billing.details(acme)["plan"] == "basic_lead"

    # deleted: cancelled until the period's end, then deactivated, then purged after the grace
    deleted = stripe_event(
        "customer.subscription.deleted", "evt_deleted", NOW, acme.id, period_end=P2
    )
    assert billing.stripe(deleted) == "applied"
    ending = billing.details(acme)
    assert (ending["status"], ending["cancel_reason"]) == ("cancelled", "too_expensive")
    assert datetime.fromisoformat(ending["ended_at"]) == P2
    assert billing.status_at(acme, P2 - timedelta(seconds=1)) == "cancelled"
    assert billing.status_at(acme, P2) == "deactivated"
    assert billing.purged_at(P2) == []
    assert billing.details(acme)["plan"] == "basic"  # the downgrade took effect at P2
    assert billing.purged_at(P2 + timedelta(days=5) - timedelta(seconds=1)) == []
    # the paying company's period ended long ago, and it is never purged: it has no reason
    assert billing.purged_at(P2 + timedelta(days=5)) == [acme.id]
    assert billing.purged_at(NOW + timedelta(days=4000)) == []
    assert billing.status_at(paying, NOW + timedelta(days=4000)) == "active"


def test_a_forged_or_stale_signature_is_refused_and_logged(
    billing: Billing, caplog: pytest.LogCaptureFixture
) -> None:
    acme = billing.company()
    event = stripe_event(
        "customer.subscription.updated", "evt_forged", NOW, acme.id, status="unpaid"
    )
    body, headers = stripe_signed(event, secret="whsec_someone_else")
    with caplog.at_level(logging.WARNING, logger="api.billing.routes"):
        refused = billing.client.post("/v1/billing/stripe/webhook", content=body, headers=headers)
        assert (refused.status_code, refused.json()["error"]["code"]) == (400, "bad_signature")
        tampered = razorpay_signed(razorpay_event("subscription.halted", NOW, acme.id), "evt_r")
        changed = tampered[0].replace(b'"halted"', b'"active"')
        answer = billing.client.post(
            "/v1/billing/razorpay/webhook", content=changed, headers=tampered[1]
        )
        assert (answer.status_code, answer.json()["error"]["code"]) == (400, "bad_signature")
    assert [r.getMessage().rsplit(": ", 1)[0] for r in caplog.records] == [
        "billing: a stripe webhook from testclient failed its signature",
        "billing: a razorpay webhook from testclient failed its signature",
    ]
    assert billing.details(acme)["status"] == "active"  # neither changed anything
    unknown = billing.client.post("/v1/billing/paypal/webhook", content=b"{}")
    assert unknown.status_code == 422


def test_the_owner_pays_changes_and_cancels_at_the_provider(billing: Billing) -> None:
    acme = billing.company()
    assert billing.client.post("/v1/billing/manage", headers=acme.owner).status_code == 409
    for kind in ("checkout.session.completed", "customer.subscription.created"):
        assert billing.stripe(stripe_event(kind, f"e-{kind}", T0, acme.id, period_end=P2)) == (
            "applied"
        )
    again = billing.client.post(
        "/v1/billing/checkout", json={"provider": "stripe", "plan": "basic"}, headers=acme.owner
    )
    assert (again.status_code, again.json()["error"]["code"]) == (409, "already_subscribed")
    portal = billing.client.post("/v1/billing/manage", headers=acme.owner)
    assert portal.json() == {"url": billing.api.url("/p/session/test_1")}
    sent = parse_qs(billing.api.received("/v1/billing_portal/sessions")[0].body.decode())
    assert sent["customer"] == ["cus_RkCustomer"]
    assert sent["return_url"] == [f"{CONSOLE}/console/#/company"]
    # a plan is the provider's to change; an API key is never the owner
    plan = billing.client.patch("/v1/company", json={"plan": "basic_lead"}, headers=acme.owner)
    assert (plan.status_code, plan.json()["error"]["code"]) == (409, "billed_by_provider")
    assert billing.client.post("/v1/billing/manage", headers=acme.key).status_code == 403

    cancel = billing.client.post(
        "/v1/company/cancel", json={"reason": "moving to a CRM's dialer"}, headers=acme.owner
    )
    assert cancel.json()["status"] == "active", cancel.text  # until Stripe's event says so
    told = parse_qs(billing.api.received("/v1/subscriptions/sub_1QjSubscription")[0].body.decode())
    assert told["cancel_at_period_end"] == ["true"]
    assert told["cancellation_details[comment]"] == ["moving to a CRM's dialer"]
    confirmed = stripe_event(
        "customer.subscription.updated",
        "e-cancelled",
        NOW,
        acme.id,
        period_end=P2,
        cancel_at_period_end=True,
        cancellation_details={
            "comment": "moving to a CRM's dialer",
            "reason": "cancellation_requested",
        },
    )
    assert billing.stripe(confirmed) == "applied"
    ending = billing.details(acme)
    assert (ending["status"], ending["cancel_reason"]) == ("cancelled", "moving to a CRM's dialer")
    assert datetime.fromisoformat(ending["ended_at"]) == P2
    refused = billing.client.post("/v1/company/reactivate", headers=acme.owner)
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "billed_by_provider")

    # a refund (an EU withdrawal) is listed with the invoices, the customer naming the company
    refund = stripe_event("charge.refunded", "e-refund", NOW, acme.id)
    assert billing.stripe(refund) == "applied"
    listed = billing.details(acme)["invoices"]
    assert [(i["status"], i["amount"]) for i in listed] == [("refunded", -4900)]


def test_razorpay_drives_the_subscription(billing: Billing) -> None:
    acme = billing.company()
    link = billing.client.post(
        "/v1/billing/checkout",
        json={"provider": "razorpay", "plan": "basic_lead"},
        headers=acme.owner,
    )
    assert link.json() == {"url": billing.api.url("/i/sub_new")}, link.text
    made = json.loads(billing.api.received("/v1/subscriptions")[0].body)
    assert (made["plan_id"], made["notes"]["company_id"]) == (RAZORPAY_PLANS["basic_lead"], acme.id)

    def sent(kind: str, event_id: str, at: datetime, period_end: datetime | None = None) -> str:
        event = razorpay_event(kind, at, acme.id, plan="basic_lead", period_end=period_end)
        if "payment" in event["payload"]:  # each charge its own payment
            event["payload"]["payment"]["entity"]["id"] = f"pay_{event_id}"
        return billing.razorpay(event, event_id)

    assert sent("subscription.activated", "ev_1", T0, P1) == "applied"
    assert sent("subscription.charged", "ev_2", T0 + timedelta(minutes=1), P1) == "applied"
    first = billing.details(acme)
    assert (first["status"], first["provider"], first["plan"]) == (
        "active",
        "razorpay",
        "basic_lead",
    )
    assert [(i["status"], i["amount"], i["currency"]) for i in first["invoices"]] == [
        ("paid", 399900, "INR")
    ]
    assert sent("subscription.pending", "ev_3", P1, P1) == "applied"
    assert billing.details(acme)["status"] == "past_due"
    assert billing.told(acme)[0] == ["billing.payment_failed"]
    assert sent("subscription.pending", "ev_3", P1, P1) == "duplicate"
    assert sent("subscription.charged", "ev_4", P1 + timedelta(days=1), P2) == "applied"
    renewed = billing.details(acme)
    assert (renewed["status"], datetime.fromisoformat(renewed["period_end"])) == ("active", P2)
    # the retries of a later charge ran out: deactivated for non-payment, purged after the grace
    halted_at = NOW - timedelta(days=1)
    assert sent("subscription.pending", "ev_5", halted_at - timedelta(days=3)) == "applied"
    assert sent("subscription.halted", "ev_6", halted_at) == "applied"
    assert sent("subscription.charged", "ev_2", T0 + timedelta(minutes=1), P1) == "duplicate"
    assert sent("subscription.pending", "ev_0", T0 + timedelta(days=1)) == "applied"  # older
    stopped = billing.details(acme)
    assert (stopped["status"], datetime.fromisoformat(stopped["ended_at"])) == (
        "deactivated",
        halted_at,
    )
    refused = billing.client.get("/v1/employees", headers=acme.key)
    assert (refused.status_code, refused.json()["error"]["code"]) == (402, "subscription_inactive")
    refund = razorpay_event("refund.processed", NOW, acme.id)
    refund["payload"]["refund"]["entity"]["payment_id"] = "pay_ev_4"
    assert billing.razorpay(refund, "ev_7") == "applied"  # found by the refunded payment
    listed = billing.details(acme)["invoices"]
    assert [(i["id"], i["status"], i["amount"]) for i in listed] == [
        ("pay_ev_4", "refunded", -399900),
        ("pay_ev_2", "paid", 399900),
    ]
    assert billing.purged_at(halted_at + timedelta(days=5) - timedelta(seconds=1)) == []
    assert billing.purged_at(halted_at + timedelta(days=5)) == [acme.id]


@pytest.mark.parametrize("billing", ["sqlite"], indirect=True)
def test_the_owners_billing_page_in_chromium(
    billing: Billing, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Plan, state, renewal in the company's zone, the invoices with their links, the portal
    one click away, and a cancellation that asks why; photographed (docs/console/billing.png)."""
    acme = billing.company()
    for kind, at, end in (
        ("checkout.session.completed", T0, P1),
        ("customer.subscription.created", T0, P1),
        ("invoice.paid", T0, P1),
        ("invoice.paid", P1, P2),
        ("customer.subscription.updated", NOW - timedelta(days=1), P2),
    ):
        event = stripe_event(
            kind, f"e-{kind}-{at:%s}", at, acme.id, plan="basic_lead", period_end=end
        )
        if kind == "invoice.paid":  # each period its own invoice
            event["data"]["object"] |= {"id": f"in_{at:%Y%m}", "number": f"CC-{at:%Y%m}"}
        assert billing.stripe(event) == "applied"
    down = stripe_event("customer.subscription.updated", "e-down", NOW, acme.id, period_end=P2)
    assert billing.stripe(down) == "applied"
    shots = screenshot_dir(tmp_path_factory)
    with served(billing.client.app) as base, chromium() as browser:
        sign_in(browser, base, acme.email, OWNER_PASSWORD)
        wait_for(browser, '#main[data-page="dashboard"][data-ready="true"]', 30)
        panel = open_page(browser, base, "company").find_element(
            By.CSS_SELECTOR, "section.subscription"
        )
        facts = panel.find_element(By.CSS_SELECTOR, "dl.facts").text
        assert "Basic + leads (Basic from the period's end)" in facts
        assert "active" in facts and when_local(P2) in facts
        assert "Times in Asia/Kolkata" in text_of(browser, "#main")  # the page says its zone
        rows = panel.find_elements(By.CSS_SELECTOR, "tbody tr")
        assert [r.find_element(By.CSS_SELECTOR, "td[data-label=Amount]").text for r in rows] == [
            "$49.00",
            "$49.00",
        ]
        assert (
            rows[0]
            .find_element(By.TAG_NAME, "a")
            .get_attribute("href")
            .startswith("https://invoice.stripe.com/")
        )
        browser.execute_script("arguments[0].scrollIntoView()", panel)
        browser.save_screenshot(str(shots / "billing.png"))

        reason = panel.find_element(By.CSS_SELECTOR, "form.cancel textarea[name=reason]")
        reason.send_keys("we hired a call centre")
        panel.find_element(By.CSS_SELECTOR, "form.cancel button[type=submit]").click()
        browser.switch_to.alert.accept()
        eventually(lambda: billing.api.received("/v1/subscriptions/sub_1QjSubscription"), 20)
        sent = billing.api.received("/v1/subscriptions/sub_1QjSubscription")[0].body.decode()
        assert parse_qs(sent)["cancellation_details[comment]"] == ["we hired a call centre"]

        manage = wait_for(browser, "section.subscription button:not(.danger)")
        assert manage.text == "Pay, change the plan or the card (Stripe)"
        manage.click()
        eventually(lambda: browser.current_url == billing.api.url("/p/session/test_1"), 20)


def when_local(at: datetime) -> str:
    """As the console shows a time: in the company's zone (Asia/Kolkata here)."""
    return f"{at.astimezone(ZoneInfo('Asia/Kolkata')):%Y-%m-%d %H:%M}"


@contextmanager
def served(app: Any) -> Iterator[str]:
    """The report API on a real port in this process (the console needs a server, not the
    worker): uvicorn in a thread, stopped at the end."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    eventually(lambda: server.started, 20, 0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
