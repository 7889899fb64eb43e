"""What a CRM connects to, through the real stack, on chDB + SQLite and on ClickHouse server +
PostgreSQL (one stack each for the module).

REST hooks (phone -> ingest -> Kafka -> worker -> ClickHouse -> integration topic -> delivery
log -> a local receiver), signatures verified with the Standard Webhooks reference library.
Faults: the worker SIGKILLed with deliveries in flight while the receiver goes down and back; a
lead made while Kafka is down waits in the outbox and is delivered once Kafka is back.

The change feeds: a sync client pages `GET /v1/changes/calls` in a thread of its own while
calls are uploaded, re-sent with a new duration, noted and a number erased, and ends holding
exactly the stored calls, each as the history shows it, and no erased number; the leads' feed
likewise through creation, changes and deletion. Follow-ups: on the phone's list, completed by
a connected call through the worker, `followup.completed` delivered signed."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from core.accounts.directory import FACTS_TTL_S
from tests.conftest import StackFactory, stack_of_param
from tests.support.receiver import Answer, Received, Receiver
from tests.support.services import Broker
from tests.support.stack import Stack, eventually, owner_token
from tests.test_faults import calls_of
from tests.test_pipeline_e2e import upload
from tests.test_privacy_e2e import erased

MISSED = ("missed", "rejected")
ERASED, KEPT, LATER = "+919876512345", "+919811122233", "+919822233344"
HOOK_ENV = {
    "CLOSECALL_HOOKS_ALLOW_PRIVATE": "true",  # the receiver is on 127.0.0.1
    "CLOSECALL_HOOK_POLL_INTERVAL_S": "0.2",
    "CLOSECALL_HOOK_RETRY_SCALE": "0.01",  # 5 s ... 24 h become 0.05 s ... 14 min
    "CLOSECALL_HOOK_LEASE_S": "6",
    "CLOSECALL_HOOK_TIMEOUT_S": "5",
    "CLOSECALL_CHANGE_FEED_SETTLE_S": "1",  # default five: the feed's tests wait less
}


@pytest.fixture(scope="module", params=["chdb", "server"])
def stack(
    request: pytest.FixtureRequest, broker: Broker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    yield from stack_of_param(request, broker, tmp_path_factory, HOOK_ENV)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver().start()
    yield started
    started.stop()


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def subscribe(stack: Stack, key: str, event: str, url: str) -> dict[str, Any]:
    answer = stack.api.post(
        "/v1/hooks", json={"event": event, "target_url": url}, headers=auth(key)
    )
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


def company(stack: Stack, name: str, plan: str = "basic") -> tuple[str, str]:
    key = stack.signup(f"{name}{uuid.uuid4().hex[:6]}", plan=plan)["api_key"]
    return key, stack.enrolled_device(key, "Asha", "hw-1")["device_token"]


def history(stack: Stack, key: str) -> dict[str, dict[str, Any]]:
    page = stack.api.get("/v1/calls", params={"limit": 1000}, headers=auth(key))
    assert page.status_code == 200, page.text
    return {item["id"]: item for item in page.json()["items"]}


def accepted(stack: Stack, token: str, calls: list[dict[str, Any]]) -> None:
    answer = upload(stack, token, calls)
    assert answer.status_code == 202 and answer.json()["accepted"] == len(calls), answer.text


def test_calls_are_delivered_once_signed_and_after_they_are_visible(
    stack: Stack, receiver: Receiver
) -> None:
    key, token = company(stack, "Hooked")
    visible_at_delivery: dict[str, bool] = {}

    def check_visible(request: Received, _seen: int) -> Answer:
        call_id = request.json()["data"]["id"]
        visible_at_delivery[call_id] = call_id in history(stack, key)
        return 204, {}

    receiver.responder = check_visible
    created = subscribe(stack, key, "call.created", receiver.url("/created"))
    missed = subscribe(stack, key, "call.missed", receiver.url("/missed"))
    calls = [call.wire() for call in calls_of(24, "hooked")]
    accepted(stack, token, calls)
    missed_count = sum(1 for call in calls_of(24, "hooked") if call.type in MISSED)
    assert missed_count > 0
    eventually(lambda: len(receiver.delivered("/created")) == 24, 60)
    eventually(lambda: len(receiver.delivered("/missed")) == missed_count, 60)

    items = history(stack, key)
    for path, hook in (("/created", created), ("/missed", missed)):
        for request in receiver.received(path):
            Webhook(hook["secret"]).verify(request.body, request.headers)
            body = request.json()
            assert body["type"] == hook["event"]
            assert body["data"] == items[body["data"]["id"]]  # the history item, number masked
            assert body["data"]["employee_name"] == "Asha"  # a CRM needs no second lookup
    assert visible_at_delivery and all(visible_at_delivery.values())
    missed_ids = {r.json()["data"]["id"] for r in receiver.received("/missed")}
    assert missed_ids == {i for i, item in items.items() if item["type"] in MISSED}

    # a re-upload of the same calls sends nothing new; a new call after it from the same phone
    # (the same partition, so it is processed after them) shows the re-upload went through
    accepted(stack, token, calls)
    marker = {**calls[0], "id": "marker", "type": "missed", "duration_s": 0}
    accepted(stack, token, [marker])
    eventually(lambda: len(receiver.delivered("/missed")) == missed_count + 1, 60)
    eventually(lambda: len(receiver.delivered("/created")) == 25, 60)
    time.sleep(1)
    for path in ("/created", "/missed"):
        assert set(receiver.delivered(path).values()) == {1}
        assert len(receiver.received(path)) == len(receiver.delivered(path))

    log = stack.api.get(f"/v1/hooks/{created['id']}/deliveries", headers=auth(key)).json()
    newest: dict[str, dict[str, Any]] = {}
    for attempt in log["items"]:  # newest first
        newest.setdefault(attempt["event_id"], attempt)
    assert set(newest) == set(receiver.delivered("/created"))
    assert {(i["status_code"], i["next_attempt_at"]) for i in newest.values()} == {(204, None)}


def test_a_500_is_retried_with_the_same_id_and_a_410_unsubscribes(
    stack: Stack, receiver: Receiver
) -> None:
    key, token = company(stack, "Flaky", plan="basic_lead")

    def flaky(request: Received, seen: int) -> Answer:
        if request.path == "/gone":
            return 410, {}
        return (500, {}) if seen == 1 else (200, {})

    receiver.responder = flaky
    retried = subscribe(stack, key, "call.created", receiver.url("/flaky"))
    gone = subscribe(stack, key, "call.created", receiver.url("/gone"))
    leads = subscribe(stack, key, "lead.created", receiver.url("/leads"))
    call = {**calls_of(1, "flaky")[0].wire(), "number": "+91 98765 43210"}
    lead = stack.api.post(
        "/v1/leads", json={"primary_number": "9876543210"}, headers=auth(key)
    ).json()
    accepted(stack, token, [call])
    eventually(lambda: len(receiver.delivered("/flaky")) == 1, 60)
    [first, second] = receiver.received("/flaky")
    assert first.webhook_id == second.webhook_id and (first.status, second.status) == (500, 200)
    Webhook(retried["secret"]).verify(second.body, second.headers)
    data = second.json()["data"]
    assert data["lead_id"] == lead["id"] and data == history(stack, key)[data["id"]]
    # the lead's own event: from the lead's transaction (the outbox) through Kafka
    eventually(lambda: receiver.delivered("/leads"), 60)  # after a 500, like every path here
    made = receiver.received("/leads")[-1]
    assert receiver.delivered("/leads") == {made.webhook_id: 1}
    Webhook(leads["secret"]).verify(made.body, made.headers)
    assert made.json()["type"] == "lead.created" and made.json()["data"]["id"] == lead["id"]
    assert made.json()["data"]["employee_name"] == "Asha"  # the employee it was given to
    log = stack.api.get(f"/v1/hooks/{retried['id']}/deliveries", headers=auth(key)).json()
    assert [(i["attempt"], i["status_code"]) for i in log["items"]] == [(2, 200), (1, 500)]
    assert log["items"][1]["next_attempt_at"] is not None and log["items"][1]["error"]
    eventually(
        lambda: stack.api.get(f"/v1/hooks/{gone['id']}", headers=auth(key)).status_code == 404
    )
    accepted(stack, token, [{**call, "id": "after-410"}])
    eventually(lambda: len(receiver.delivered("/flaky")) == 2, 60)
    assert len(receiver.received("/gone")) == 1  # never sent to again


def test_an_upgrade_reaches_the_next_call_webhook_without_a_restart(
    stack: Stack, receiver: Receiver
) -> None:
    """The worker reads a company's plan again within FACTS_TTL_S: after an upgrade to leads
    the next call's webhook carries its lead (it once kept the plan until a restart)."""
    name = f"Upgrade{uuid.uuid4().hex[:6]}"
    key = stack.signup(name)["api_key"]
    token = stack.enrolled_device(key, "Asha", "hw-1")["device_token"]
    subscribe(stack, key, "call.created", receiver.url("/upgrade"))
    call = {**calls_of(1, "upgrade")[0].wire(), "number": "+91 98765 40001"}
    accepted(stack, token, [call])
    eventually(lambda: len(receiver.delivered("/upgrade")) == 1, 60)
    assert receiver.received("/upgrade")[0].json()["data"]["lead_id"] is None
    login = {"email": f"owner@{name.lower()}.example", "password": "correct horse battery staple"}
    owner = stack.api.post("/v1/auth/login", json=login).json()["access_token"]
    upgraded = stack.api.patch("/v1/company", json={"plan": "basic_lead"}, headers=auth(owner))
    assert upgraded.status_code == 200 and upgraded.json()["plan"] == "basic_lead"
    lead = stack.api.post("/v1/leads", json={"primary_number": "9876540001"}, headers=auth(key))
    assert lead.status_code == 201, lead.text
    time.sleep(FACTS_TTL_S)
    accepted(stack, token, [{**call, "id": "after-upgrade"}])
    eventually(lambda: len(receiver.delivered("/upgrade")) == 2, 60)
    data = receiver.received("/upgrade")[-1].json()["data"]
    assert data["lead_id"] == lead.json()["id"] and data == history(stack, key)[data["id"]]


def test_worker_killed_in_flight_and_receiver_down_deliver_everything_once(
    stack: Stack, receiver: Receiver
) -> None:
    key, token = company(stack, "Faults")

    def busy(_request: Received, _seen: int) -> Answer:
        return 503, {"Retry-After": "1"}

    receiver.responder, receiver.delay_s = busy, 1.0
    hook = subscribe(stack, key, "call.created", receiver.url())
    calls = [call.wire() for call in calls_of(40, "faults")]
    accepted(stack, token, calls)
    eventually(lambda: len(receiver.received()) >= 8, 60, 0.05)  # deliveries in flight
    stack.kill_worker()
    receiver.stop()  # down: connections refused
    stack.start_worker()

    def refused_attempts() -> set[str]:
        with httpx.Client(base_url=str(stack.api.base_url), headers=auth(key)) as api:
            found = api.get(f"/v1/hooks/{hook['id']}/deliveries", params={"limit": 1000})
        return {i["error"] for i in found.json()["items"] if "ConnectError" in (i["error"] or "")}

    # the killed worker's leases end; the new worker's attempts meet a receiver that is down
    # (waited for: on the server path the worker is up seconds before the report API answers)
    eventually(refused_attempts, 60, 0.2)
    receiver.delay_s = 0.0
    receiver.responder = lambda _request, _seen: (200, {})
    receiver.start()
    eventually(lambda: len(receiver.delivered()) == 40, 120)
    time.sleep(1)
    delivered = receiver.delivered()
    assert set(delivered.values()) == {1}, "an event was delivered twice"
    statuses = Counter(r.status for r in receiver.received())
    assert statuses[503] >= 8
    Webhook(hook["secret"]).verify(receiver.received()[-1].body, receiver.received()[-1].headers)
    history_ids = set(history(stack, key))
    assert {r.json()["data"]["id"] for r in receiver.received()} == history_ids


def test_a_lead_made_while_kafka_is_down_is_delivered_once_it_is_back(
    make_stack: StackFactory, tmp_path: Path, receiver: Receiver
) -> None:
    broker = Broker("noida", tmp_path / "broker")
    broker.workdir.mkdir()
    broker.start()
    try:
        stack = make_stack(broker.bootstrap, env=HOOK_ENV)
        key = stack.signup(f"Outbox{uuid.uuid4().hex[:6]}", plan="basic_lead")["api_key"]
        hook = subscribe(stack, key, "lead.created", receiver.url("/leads"))
        broker.stop()
        answer = stack.api.post(
            "/v1/leads", json={"primary_number": "9876543210"}, headers=auth(key)
        )
        assert answer.status_code == 201, answer.text  # the event waits in the outbox
        time.sleep(3)  # the relay tries meanwhile, and fails
        assert receiver.received("/leads") == []
        broker.start()  # same port, same data directory
        eventually(lambda: receiver.delivered("/leads"), 120)
        [made] = receiver.received("/leads")
        Webhook(hook["secret"]).verify(made.body, made.headers)
        assert made.json()["data"]["id"] == answer.json()["id"]
    finally:
        broker.stop()


def call(call_id: str, number: str, duration_s: int, minute: int) -> dict[str, Any]:
    return {
        "id": call_id,
        "number": number,
        "type": "outgoing" if duration_s else "missed",
        "duration_s": duration_s,
        "started_at": f"2026-03-02T10:{minute:02d}:00+05:30",
    }


class SyncClient:
    """What an integrator writes: page the feed from its cursor, small pages, apply each item
    (an upsert kept if its version is the highest seen, a delete dropping the call)."""

    def __init__(self, stack: Stack, key: str, feed: str) -> None:
        self.stack, self.key, self.feed = stack, key, feed
        self.cursor: str | None = None
        self.held: dict[str, dict[str, Any]] = {}
        self.pages = 0

    def sync(self) -> None:
        while True:
            params: dict[str, Any] = {"limit": 3}
            if self.cursor:
                params["cursor"] = self.cursor
            answer = self.stack.api.get(
                f"/v1/changes/{self.feed}", params=params, headers=auth(self.key)
            )
            assert answer.status_code == 200, answer.text
            page = answer.json()
            self.pages += 1
            for item in page["items"]:
                self.apply(item)
            assert page["next_cursor"], page  # also on an empty page
            self.cursor = page["next_cursor"]
            if not page["items"]:
                return

    def apply(self, item: dict[str, Any]) -> None:
        if item["op"] == "delete":
            self.held.pop(item["id"], None)
            return
        changed = item["call"] if self.feed == "calls" else item["lead"]
        known = self.held.get(changed["id"])
        if self.feed == "leads" or known is None or changed["version"] >= known["version"]:
            self.held[changed["id"]] = changed


def in_background(client: SyncClient, stop: threading.Event) -> threading.Thread:
    failures: list[BaseException] = []

    def run() -> None:
        while not stop.is_set():
            try:
                client.sync()
            except BaseException as exc:  # reported by the test below
                failures.append(exc)
                return
            time.sleep(0.2)

    thread = threading.Thread(target=run, daemon=True)
    thread.failures = failures  # type: ignore[attr-defined]
    thread.start()
    return thread


def shown(calls: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    return {c["id"]: (c["number"], c["duration_s"], c["note"], c["employee_name"]) for c in calls}


def test_a_sync_client_ends_with_exactly_the_stored_calls(stack: Stack) -> None:
    made = stack.signup(f"Feed{stack.name}", plan="basic_lead")
    key = made["api_key"]
    device = stack.enrolled_device(key, "Asha", f"hw-feed-{stack.name}")
    token = device["device_token"]
    owner = owner_token(stack, f"Feed{stack.name}")
    first = [call("e-1", ERASED, 0, 0), call("e-2", ERASED, 40, 5), call("k-1", KEPT, 30, 10)]
    assert upload(stack, token, first).status_code == 202

    client = SyncClient(stack, key, "calls")
    stop = threading.Event()
    thread = in_background(client, stop)
    try:
        eventually(lambda: len(client.held) == 3, timeout_s=60)
        # while it pages: more calls, a re-sent call with a new duration, a note, an erasure
        more = [call(f"m-{n}", LATER, 20 + n, 15 + n) for n in range(8)]
        assert upload(stack, token, more).status_code == 202
        assert upload(stack, token, [call("k-1", KEPT, 95, 10)]).status_code == 202
        noted = stack.ingest.put(
            "/v1/calls/m-3/note", json={"note": "call back"}, headers=auth(token)
        )
        assert noted.status_code == 202
        eventually(lambda: len(history(stack, key)) == 11)
        erasure = stack.api.post(
            "/v1/privacy/erasures", json={"number": ERASED}, headers=auth(owner)
        )
        assert erasure.status_code == 202, erasure.text
        erased(stack, owner, erasure.json()["id"])
        # a call made long ago, uploaded last: the last stored, so the polling trigger's first
        late = {**call("z-1", KEPT, 12, 40), "started_at": "2025-01-05T10:40:00+05:30"}
        assert upload(stack, token, [late]).status_code == 202
        stored = eventually(lambda: (found := history(stack, key)) and len(found) == 10 and found)
        expected = shown(list(stored.values()))
        newest = stack.api.get("/v1/triggers/calls", params={"limit": 2}, headers=auth(key))
        assert newest.json()["items"][0]["started_at"].startswith("2025-01-05"), newest.text
        assert len({c["id"] for c in newest.json()["items"]}) == 2
        eventually(lambda: shown(list(client.held.values())) == expected, timeout_s=30)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.failures, thread.failures  # type: ignore[attr-defined]
    held = client.held
    assert held[next(i for i, c in held.items() if c["duration_s"] == 95)]["number"] is not None
    assert {c["duration_s"] for c in held.values() if c["note"] == "call back"} == {23}
    masked_erased = ERASED[:6]
    assert not any(c["number"] and c["number"].startswith(masked_erased) for c in held.values())
    assert client.pages > 5
    # a cursor of the end answers nothing new, and a cursor it did not give is a 422
    after = stack.api.get("/v1/changes/calls", params={"cursor": client.cursor}, headers=auth(key))
    assert after.status_code == 200 and after.json()["items"] == []
    bad = stack.api.get(
        "/v1/changes/calls", params={"cursor": "bm90LWEtY3Vyc29y"}, headers=auth(key)
    )
    assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["path"] == "cursor"


def test_the_leads_feed_follows_creation_change_and_deletion(stack: Stack) -> None:
    made = stack.signup(f"Leads{stack.name}", plan="basic_lead")
    key = made["api_key"]
    client = SyncClient(stack, key, "leads")
    ids = []
    for n in range(5):
        created = stack.api.post(
            "/v1/leads",
            json={
                "first_name": f"Lead {n}",
                "primary_number": f"+91981234500{n}",
            },
            headers=auth(key),
        )
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    client.sync()
    assert sorted(client.held) == sorted(ids)
    changed = stack.api.patch(f"/v1/leads/{ids[1]}", json={"company": "Acme"}, headers=auth(key))
    assert changed.status_code == 200, changed.text
    assert stack.api.delete(f"/v1/leads/{ids[2]}", headers=auth(key)).status_code == 204
    client.sync()
    listed = stack.api.get("/v1/leads", params={"limit": 100}, headers=auth(key)).json()["items"]
    assert client.held == {lead["id"]: lead for lead in listed}
    assert client.held[ids[1]]["company"] == "Acme" and ids[2] not in client.held


def test_a_connected_call_completes_a_followup_through_the_worker(
    stack: Stack, receiver: Receiver
) -> None:
    made = stack.signup(f"Follow{stack.name}", plan="basic_lead")
    key = made["api_key"]
    hook = subscribe(stack, key, "followup.completed", receiver.url("/completed"))
    device = stack.enrolled_device(key, "Asha", f"hw-follow-{stack.name}")
    due = "2026-03-03T10:00:00+05:30"
    followup = stack.api.post(
        "/v1/followups", json={"number": KEPT, "due_at": due}, headers=auth(key)
    )
    assert followup.status_code == 201, followup.text
    mine = stack.api.patch(
        f"/v1/followups/{followup.json()['id']}",
        json={"employee_id": device["employee_id"]},
        headers=auth(key),
    )
    assert mine.status_code == 200, mine.text

    def phone_list() -> list[dict[str, Any]]:
        answer = stack.ingest.get("/v1/device/followups", headers=auth(device["device_token"]))
        assert answer.status_code == 200, answer.text
        return list(answer.json()["items"])

    listed = phone_list()
    assert [(item["id"], item["number"]) for item in listed] == [(followup.json()["id"], KEPT)]
    assert listed[0]["due_at"] == "2026-03-03T10:00:00+05:30"
    now = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
    calls = [
        {**call("f-1", KEPT, 0, 1), "started_at": now},  # missed: not connected
        {**call("f-2", KEPT, 45, 2), "started_at": now},  # connected
    ]
    assert upload(stack, device["device_token"], calls).status_code == 202

    def done() -> list[dict[str, Any]]:
        items = stack.api.get("/v1/followups", params={"status": "done"}, headers=auth(key)).json()[
            "items"
        ]
        return list(items)

    (item,) = eventually(done, timeout_s=60)
    stored = history(stack, key)
    assert item["id"] == followup.json()["id"]
    assert stored[item["done_by_call_id"]]["duration_s"] == 45
    assert phone_list() == []  # done: off the phone's list
    # the CRM hears of it once, signed, with what it needs to close its own task
    eventually(lambda: len(receiver.delivered("/completed")) == 1, 60)
    (request,) = receiver.received("/completed")
    Webhook(hook["secret"]).verify(request.body, request.headers)
    body = request.json()
    assert body["type"] == "followup.completed"
    assert body["data"]["id"] == item["id"] and body["data"]["status"] == "done"
    assert body["data"]["done_by_call_id"] == item["done_by_call_id"]
    assert body["data"]["employee_name"] == "Asha"
    assert body["data"]["number"] == KEPT[:3] + "******" + KEPT[-4:]  # masked: not a reveal hook
