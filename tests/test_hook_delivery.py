"""REST hooks in this process, on SQLite and on PostgreSQL: subscriptions through the report API
(the secret shown once, SSRF refusals), and the worker's delivery loop driven by an injected
clock against a real local receiver: the retry schedule with its jitter, Retry-After, giving
up, 410, five days of failures disabling a hook, redelivery, numbers in E.164 audited, a name
that resolves to loopback at delivery, and lead events through the outbox. Signatures are
checked with the Standard Webhooks reference library."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from standardwebhooks.webhooks import Webhook

from api.context import ApiContext
from api.hooks.service import checked_target
from core.accounts.directory import CompanyDirectory
from core.clickhouse import ClickHouse
from core.controlplane import (
    audit_log,
    companies,
    hook_deliveries,
    integration_outbox,
)
from core.devices.views import stale_device_events
from core.errors import DomainError
from core.hooks.delivery import JITTER, MAX_ATTEMPTS, RETRY_SCHEDULE_S
from core.hooks.events import forget_number, outbox_batch, record_events, relayed
from core.hooks.sender import Sender
from core.number_crypto import encrypt_number, unwrap_company_keys
from core.privacy.erasures import request_erasure
from schemas.events import IntegrationEvent, integration_event_id
from streams.hooks.deliveries import DeliveryLoop
from tests.support.inprocess import MASTER_KEY, api_client
from tests.support.receiver import Answer, Received, Receiver
from tests.test_lead_push import employee_with_phone
from tests.test_lead_push import signed_up as lead_company
from tests.test_stale_push import status_seen

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'control.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def api(
    database_url: str, chdb_store: ClickHouse, tmp_path: Path
) -> Iterator[tuple[TestClient, ApiContext]]:
    client, context = api_client(database_url, chdb_store, tmp_path, allow_private=True)
    with client:
        yield client, context
    context.engine.dispose()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver().start()
    yield started
    started.stop()


def signed_up(client: TestClient) -> tuple[dict[str, str], str]:
    """A company on the lead plan: its API key's header and its id."""
    auth = lead_company(client)
    return auth, client.get("/v1/me", headers=auth).json()["company"]["id"]


def subscribe(client: TestClient, auth: dict[str, str], url: str, **body: Any) -> dict[str, Any]:
    answer = client.post(
        "/v1/hooks", json={"event": "call.created", "target_url": url, **body}, headers=auth
    )
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


def call_event(company_id: str, call_id: str, number_enc: str = "") -> IntegrationEvent:
    return IntegrationEvent(
        id=integration_event_id("call.created", call_id),
        type="call.created",
        company_id=company_id,
        occurred_at=T0,
        data={"id": call_id, "number": "+91******3210", "type": "missed"},
        sealed={"number": number_enc} if number_enc else {},
    )


def delivery_loop(
    context: ApiContext,
    clock: Clock,
    sender: Sender | None = None,
    concurrency: int = 8,
    per_hook: int = 4,
) -> DeliveryLoop:
    return DeliveryLoop(
        context.engine,
        CompanyDirectory(context.engine, MASTER_KEY),
        sender or Sender(5.0, allow_private=True),
        concurrency=concurrency,
        per_hook=per_hook,
        lease_s=60,
        poll_interval_s=0.1,
        clock=clock,
        rand=random.Random(7),
    )


def run(loop: DeliveryLoop) -> int:
    async def once() -> int:
        started = await loop.run_once()
        await loop.drain()
        await loop.sender.close()
        loop.sender = Sender(loop.sender.timeout_s, loop.sender.allow_private, loop.sender.resolver)
        return started

    return asyncio.run(once())


def delivery(context: ApiContext, hook_id: str, event_id: str) -> Any:
    with context.engine.connect() as conn:
        return conn.execute(
            sa.select(hook_deliveries).where(
                hook_deliveries.c.hook_id == hook_id, hook_deliveries.c.event_id == event_id
            )
        ).first()


def record(context: ApiContext, events: list[IntegrationEvent], now: datetime) -> int:
    with context.engine.begin() as conn:
        return len(record_events(conn, events, now))


def failing(status: int, headers: dict[str, str] | None = None) -> Any:
    def answer(_request: Received, _seen: int) -> Answer:
        return status, headers or {}

    return answer


def test_secret_once_signed_deliveries_and_no_duplicate(
    api: tuple[TestClient, ApiContext], receiver: Receiver
) -> None:
    client, context = api
    auth, company_id = signed_up(client)
    hook = subscribe(client, auth, receiver.url())
    assert hook["secret"].startswith("whsec_") and hook["numbers"] == "masked"
    shown = client.get(f"/v1/hooks/{hook['id']}", headers=auth).json()
    assert "secret" not in shown and shown["disabled_at"] is None
    assert [h["id"] for h in client.get("/v1/hooks", headers=auth).json()["items"]] == [hook["id"]]
    with context.engine.connect() as conn:  # kept encrypted, never as given
        stored = conn.execute(sa.text("SELECT secret_enc FROM hooks")).scalars().all()
    assert hook["secret"] not in stored

    events = [call_event(company_id, f"call-{n}") for n in range(3)]
    assert record(context, events, T0) == 3
    assert record(context, events, T0) == 0  # a replay, a re-upload: the same ids, nothing new
    assert run(delivery_loop(context, Clock())) == 3
    got = receiver.received()
    assert sorted(r.webhook_id for r in got) == sorted(e.id for e in events)
    for request in got:
        Webhook(hook["secret"]).verify(request.body, request.headers)  # raises if wrong
        body = request.json()
        assert body["type"] == "call.created" and body["timestamp"] == T0.isoformat()
        assert body["data"]["number"] == "+91******3210"
    log = client.get(f"/v1/hooks/{hook['id']}/deliveries", headers=auth).json()
    assert [(i["attempt"], i["status_code"], i["next_attempt_at"]) for i in log["items"]] == [
        (1, 200, None)
    ] * 3
    paged = client.get(f"/v1/hooks/{hook['id']}/deliveries", params={"limit": 2}, headers=auth)
    rest = client.get(
        f"/v1/hooks/{hook['id']}/deliveries",
        params={"limit": 2, "cursor": paged.json()["next_cursor"]},
        headers=auth,
    ).json()
    ids = [i["event_id"] for i in paged.json()["items"] + rest["items"]]
    assert sorted(ids) == sorted(e.id for e in events) and rest["next_cursor"] is None

    other, _ = signed_up(client)  # another company sees none of it
    assert client.get(f"/v1/hooks/{hook['id']}", headers=other).status_code == 404
    assert client.get("/v1/hooks", headers=other).json()["items"] == []
    assert client.delete(f"/v1/hooks/{hook['id']}", headers=other).status_code == 404
    assert client.delete(f"/v1/hooks/{hook['id']}", headers=auth).status_code == 204
    assert client.get(f"/v1/hooks/{hook['id']}", headers=auth).status_code == 404


def test_retry_schedule_by_the_clock_then_given_up(
    api: tuple[TestClient, ApiContext], receiver: Receiver
) -> None:
    client, context = api
    auth, company_id = signed_up(client)
    hook = subscribe(client, auth, receiver.url())
    receiver.responder = failing(500)
    event = call_event(company_id, "call-retried")
    record(context, [event], T0)
    clock = Clock()
    loop = delivery_loop(context, clock)
    waits = []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert run(loop) == 1, f"attempt {attempt} was due"
        row = delivery(context, hook["id"], event.id)
        assert row.attempts == attempt
        if attempt == MAX_ATTEMPTS:
            break
        waits.append((row.next_attempt_at - clock.now).total_seconds())
        clock.now = row.next_attempt_at - timedelta(seconds=1)
        assert run(loop) == 0  # not yet
        clock.now = row.next_attempt_at
    for wait, planned in zip(waits, RETRY_SCHEDULE_S, strict=True):
        assert planned * (1 - JITTER) <= wait <= planned * (1 + JITTER)
    assert len(set(waits)) == len(waits)  # jittered
    row = delivery(context, hook["id"], event.id)
    assert (row.state, row.next_attempt_at) == ("failed", None)
    assert {r.webhook_id for r in receiver.received()} == {event.id}  # the same id every time
    assert len(receiver.received()) == MAX_ATTEMPTS
    log = client.get(f"/v1/hooks/{hook['id']}/deliveries", headers=auth).json()["items"]
    assert [i["attempt"] for i in log] == list(range(MAX_ATTEMPTS, 0, -1))
    assert {(i["status_code"], i["error"]) for i in log} == {(500, "HTTP 500")}

    receiver.responder = failing(200)  # redelivery sends it again now
    answer = client.post(f"/v1/hooks/{hook['id']}/deliveries/{event.id}/redeliver", headers=auth)
    assert answer.status_code == 202 and answer.json() == {"status": "scheduled"}
    clock.now = datetime.now(UTC)  # the API schedules it at its own now
    assert run(loop) == 1
    assert delivery(context, hook["id"], event.id).state == "delivered"
    missing = client.post(f"/v1/hooks/{hook['id']}/deliveries/evt_nope/redeliver", headers=auth)
    assert missing.status_code == 404


def test_retry_after_410_and_five_days_of_failures(
    api: tuple[TestClient, ApiContext], receiver: Receiver
) -> None:
    client, context = api
    auth, company_id = signed_up(client)
    hook = subscribe(client, auth, receiver.url())
    clock = Clock()
    loop = delivery_loop(context, clock)

    receiver.responder = failing(429, {"Retry-After": "120"})
    first = call_event(company_id, "call-429")
    record(context, [first], T0)
    run(loop)
    assert delivery(context, hook["id"], first.id).next_attempt_at == T0 + timedelta(seconds=120)

    receiver.responder = failing(503)  # no Retry-After: the schedule
    clock.now = T0 + timedelta(days=5, seconds=1)
    late = call_event(company_id, "call-late")
    record(context, [late], clock.now)
    run(loop)  # both fail, five days after the first failure: disabled
    shown = client.get(f"/v1/hooks/{hook['id']}", headers=auth).json()
    assert shown["disabled_at"] is not None
    assert record(context, [call_event(company_id, "call-after")], clock.now) == 0
    clock.now += timedelta(days=2)
    assert run(loop) == 0  # a disabled hook is not sent to

    gone = subscribe(client, auth, receiver.url("/gone"))
    receiver.responder = failing(410)
    record(context, [call_event(company_id, "call-410")], clock.now)
    assert run(loop) == 1
    assert client.get(f"/v1/hooks/{gone['id']}", headers=auth).status_code == 404


def test_numbers_in_e164_are_revealed_and_audited(
    api: tuple[TestClient, ApiContext], receiver: Receiver
) -> None:
    client, context = api
    auth, company_id = signed_up(client)
    hook = subscribe(client, auth, receiver.url(), numbers="e164")
    masked = subscribe(client, auth, receiver.url("/masked"))
    with context.engine.connect() as conn:
        wrapped = conn.execute(
            sa.select(companies.c.wrapped_data_key).where(companies.c.id == company_id)
        ).scalar_one()
    keys = unwrap_company_keys(MASTER_KEY, company_id, wrapped)
    sealed = encrypt_number(keys, "+919876543210")
    record(context, [call_event(company_id, f"call-e164-{n}", sealed) for n in range(2)], T0)
    run(delivery_loop(context, Clock()))
    assert len(receiver.received("/hook")) == 2
    assert receiver.received("/hook")[0].json()["data"]["number"] == "+919876543210"
    assert receiver.received("/masked")[0].json()["data"]["number"] == "+91******3210"
    with context.engine.connect() as conn:
        actions = conn.execute(
            sa.select(audit_log.c.action, audit_log.c.target).where(
                audit_log.c.company_id == company_id
            )
        ).all()
    # once, when the hook was made, not per delivery
    assert actions.count(("numbers.revealed", f"hook:{hook['id']}")) == 1
    assert ("numbers.revealed", f"hook:{masked['id']}") not in actions
    assert sum(1 for action, _ in actions if action == "hook.created") == 2


def test_private_targets_refused(chdb_store: ClickHouse, tmp_path: Path) -> None:
    client, context = api_client(
        f"sqlite:///{tmp_path / 'refusing.db'}", chdb_store, tmp_path, allow_private=False
    )
    with client:
        auth, _ = signed_up(client)
        for url in (
            "https://127.0.0.1/hook",
            "https://10.0.0.1/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/hook",
            "https://[::ffff:127.0.0.1]/hook",
            "https://localhost/hook",  # a name that resolves to loopback
            "http://93.184.216.34/hook",  # public, but not https
        ):
            answer = client.post(
                "/v1/hooks", json={"event": "call.created", "target_url": url}, headers=auth
            )
            assert answer.status_code == 422, url
            assert answer.json()["error"]["fields"][0]["path"] == "target_url", answer.text
    context.engine.dispose()


def test_a_name_resolving_to_loopback_at_delivery_is_refused(
    api: tuple[TestClient, ApiContext], receiver: Receiver
) -> None:
    client, context = api
    auth, company_id = signed_up(client)
    url = f"https://hooks.example.com:{receiver.port}/hook"
    assert checked_target(url, False, lambda _host, _port: ["93.184.216.34"]) == url
    with pytest.raises(DomainError):
        checked_target(url, False, lambda _host, _port: ["127.0.0.1"])
    hook = subscribe(client, auth, url)  # this context allows any target: stored as given
    event = call_event(company_id, "call-rebound")
    record(context, [event], T0)
    rebinding = Sender(5.0, allow_private=False, resolver=lambda _host, _port: ["127.0.0.1"])
    run(delivery_loop(context, Clock(), rebinding))
    assert receiver.received() == []
    log = client.get(f"/v1/hooks/{hook['id']}/deliveries", headers=auth).json()["items"]
    assert log[0]["status_code"] is None and "loopback" in log[0]["error"]


def test_lead_events_go_through_the_outbox(
    api: tuple[TestClient, ApiContext], receiver: Receiver
) -> None:
    client, context = api
    auth, company_id = signed_up(client)
    created = subscribe(client, auth, receiver.url("/created"), event="lead.created")
    assigned = subscribe(client, auth, receiver.url("/assigned"), event="lead.assigned")
    employee = client.post("/v1/employees", json={"name": "Asha"}, headers=auth).json()
    lead = client.post(
        "/v1/leads",
        json={"first_name": "Ravi", "primary_number": "+919876543210"},
        headers=auth,
    ).json()
    with context.engine.connect() as conn:  # the shared database holds other modules' rows
        records = [r for r in outbox_batch(conn) if r.company_id == company_id]
    assert sorted(e.type for r in records for e in r.events) == ["lead.assigned", "lead.created"]
    with context.engine.begin() as conn:  # what the worker does after Kafka has them
        record_events(conn, [e for r in records for e in r.events], T0)
        relayed(conn, records)
        own = integration_outbox.c.company_id == company_id
        assert conn.execute(sa.select(integration_outbox).where(own)).first() is None
    run(delivery_loop(context, Clock()))
    [made] = receiver.received("/created")
    [given] = receiver.received("/assigned")
    Webhook(created["secret"]).verify(made.body, made.headers)
    Webhook(assigned["secret"]).verify(given.body, given.headers)
    assert made.json()["data"]["id"] == lead["id"]
    assert made.json()["data"]["primary_number"] == "+91******3210"
    assert given.json()["data"]["employee_id"] == employee["id"]
    trigger = client.get("/v1/triggers/lead-assignments", headers=auth).json()["items"][0]
    assert given.webhook_id == integration_event_id(
        "lead.assigned", lead["id"], trigger["id"].split(":")[1]
    )
    dry = client.post(
        "/v1/leads/import",
        params={"dry_run": "true"},
        json=[{"primary_number": "+919800000001"}],
        headers=auth,
    )
    assert dry.status_code == 200, dry.text
    with context.engine.connect() as conn:  # a dry run announces nothing
        assert [r for r in outbox_batch(conn) if r.company_id == company_id] == []


def test_stale_devices_are_announced_once_per_quiet_period(
    api: tuple[TestClient, ApiContext], receiver: Receiver, chdb_store: ClickHouse
) -> None:
    client, context = api
    auth, company_id = signed_up(client)
    hook = subscribe(client, auth, receiver.url(), event="device.stale")
    employee_with_phone(client, context, auth, f"quiet-{uuid.uuid4().hex[:6]}")
    [device] = client.get("/v1/devices", headers=auth).json()["items"]
    now = datetime.now(UTC)

    def announce(at: datetime) -> int:
        with context.engine.begin() as conn:
            records = stale_device_events(conn, chdb_store, at)
            return len(record_events(conn, [e for r in records for e in r.events], at))

    assert announce(now) == 0  # enrolled just now: not stale
    later = now + timedelta(hours=7)  # six hours of silence is the default threshold
    assert announce(later) == 1
    assert announce(later + timedelta(minutes=5)) == 0  # the same quiet period
    run(delivery_loop(context, Clock(later)))
    [request] = receiver.received()
    Webhook(hook["secret"]).verify(request.body, request.headers)
    body = request.json()
    assert body["type"] == "device.stale"
    assert body["data"] == {**device, "stale": True}  # the devices-list item
    status_seen(chdb_store, company_id, device["id"], later)  # heard from, then quiet again
    assert announce(later + timedelta(hours=1)) == 0
    assert announce(later + timedelta(hours=7)) == 1


def test_a_slow_receiver_does_not_delay_the_others(
    api: tuple[TestClient, ApiContext], receiver: Receiver
) -> None:
    client, context = api
    auth, company_id = signed_up(client)
    slow = Receiver(delay_s=1.0).start()
    try:
        subscribe(client, auth, slow.url("/slow"))
        subscribe(client, auth, receiver.url("/fast"))
        events = [call_event(company_id, f"call-{n}") for n in range(6)]

        async def deliver() -> int:
            loop = delivery_loop(context, Clock(), concurrency=4, per_hook=2)
            with context.engine.begin() as conn:  # as the hooks worker: handed over at once
                loop.submit(record_events(conn, events, T0, lease_s=60))
            while len(receiver.received("/fast")) < len(events):
                await loop.run_once(poll=False)
                await asyncio.sleep(0.01)
            slow_so_far = len(slow.received("/slow"))
            while loop.ready:
                await loop.run_once(poll=False)
                await asyncio.sleep(0.05)
            await loop.drain()
            await loop.sender.close()
            return slow_so_far

        slow_when_fast_done = asyncio.run(deliver())
        assert slow_when_fast_done <= 2  # its own two slots only: the fast hook had the rest
        assert len(slow.received("/slow")) == len(events)
        assert {r.webhook_id for r in receiver.received("/fast")} == {e.id for e in events}
    finally:
        slow.stop()


def test_an_erased_number_leaves_no_webhook(
    api: tuple[TestClient, ApiContext], receiver: Receiver
) -> None:
    client, context = api
    auth, company_id = signed_up(client)
    subscribe(client, auth, receiver.url())
    erased, kept = "a" * 32, "b" * 32

    def carrying(call_id: str, key: str) -> IntegrationEvent:
        return call_event(company_id, call_id).model_copy(update={"numbers": [key]})

    assert record(context, [carrying("before", erased), carrying("other", kept)], T0) == 2
    with context.engine.begin() as conn:  # the erasure's own transaction (api/privacy/service.py)
        request_erasure(conn, company_id, T0, number_key=erased, forget_number=forget_number)
    # its undelivered webhook is gone, a later event carrying it makes none, others go on
    assert record(context, [carrying("after", erased), carrying("later", kept)], T0) == 1
    assert run(delivery_loop(context, Clock())) == 2
    assert sorted(r.json()["data"]["id"] for r in receiver.received()) == ["later", "other"]
    with context.engine.connect() as conn:
        left = conn.execute(
            sa.text("SELECT count(*) FROM hook_event_numbers WHERE number_key = :k"),
            {"k": erased},
        ).scalar_one()
    assert left == 0
