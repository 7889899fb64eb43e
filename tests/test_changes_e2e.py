"""The change feeds through the real stack, on chDB + SQLite and on ClickHouse server +
PostgreSQL: a sync client pages `GET /v1/changes/calls` in a thread of its own while calls are
uploaded, re-sent with a new duration, noted and a number erased, and ends holding exactly the
stored calls, each as the history shows it, and no erased number; the leads' feed likewise
through creation, changes and deletion."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import stack_of_param
from tests.support.services import Broker
from tests.support.stack import Stack, eventually, owner_token
from tests.test_pipeline_e2e import history, upload
from tests.test_privacy_e2e import erased

ERASED, KEPT, LATER = "+919876512345", "+919811122233", "+919822233344"


@pytest.fixture(scope="module", params=["chdb", "server"])
def feed_stack(
    request: pytest.FixtureRequest, broker: Broker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """A stack whose feeds settle after one second (default five: the test waits less)."""
    yield from stack_of_param(
        request, broker, tmp_path_factory, {"CLOSECALL_CHANGE_FEED_SETTLE_S": "1"}
    )


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


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


def test_a_sync_client_ends_with_exactly_the_stored_calls(feed_stack: Stack) -> None:
    stack = feed_stack
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
        expected = shown(stored)
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


def test_the_leads_feed_follows_creation_change_and_deletion(feed_stack: Stack) -> None:
    stack = feed_stack
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


def test_a_connected_call_completes_a_followup_through_the_worker(feed_stack: Stack) -> None:
    stack = feed_stack
    made = stack.signup(f"Follow{stack.name}", plan="basic_lead")
    key = made["api_key"]
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
    stored = {c["id"]: c for c in history(stack, key)}
    assert item["id"] == followup.json()["id"]
    assert stored[item["done_by_call_id"]]["duration_s"] == 45
    assert phone_list() == []  # done: off the phone's list
