"""The real firebase-admin code path against a transport stub that checks the exact FCM v1
request (FCM itself cannot be reached from here)."""

from __future__ import annotations

import json
from typing import cast

import pytest
import responses

from core.devices.push import PushOutcome, SyncPusher
from tests.support.fcm import FCM_URL, PROJECT, UNREGISTERED_BODY, stub_pusher


@pytest.fixture(scope="module")
def pusher() -> SyncPusher:
    return stub_pusher()


@responses.activate
def test_sync_push_is_a_high_priority_data_message_to_the_token(pusher: SyncPusher) -> None:
    responses.post(FCM_URL, json={"name": f"projects/{PROJECT}/messages/1"})
    assert pusher.push_sync("device-token-1") is PushOutcome.SENT
    (call,) = responses.calls
    assert call.request.headers["Authorization"] == "Bearer static-access-token"
    assert json.loads(cast(bytes, call.request.body)) == {
        "message": {
            "token": "device-token-1",
            "data": {"action": "sync"},
            "android": {"priority": "high"},
        }
    }


@responses.activate
def test_unregistered_token_is_reported_as_such(pusher: SyncPusher) -> None:
    responses.post(FCM_URL, status=404, json=UNREGISTERED_BODY)
    assert pusher.push_sync("dead-token") is PushOutcome.UNREGISTERED


@responses.activate
def test_server_errors_are_failures_to_retry_later(pusher: SyncPusher) -> None:
    responses.post(
        FCM_URL,
        status=503,
        json={"error": {"code": 503, "message": "down", "status": "UNAVAILABLE"}},
    )
    assert pusher.push_sync("device-token-1") is PushOutcome.FAILED


def test_without_credentials_pushes_are_off() -> None:
    assert SyncPusher(app=None).push_sync("t") is PushOutcome.DISABLED
