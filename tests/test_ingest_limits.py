"""Ingest's limits through the real service: each answers with its status and the error shape."""

from __future__ import annotations

import gzip
import json

import httpx

from tests.conftest import StackFactory
from tests.support.services import Broker
from tests.test_faults import enrolled, wire_calls

LIMITS = {
    "CLOSECALL_MAX_BODY_BYTES": "4000",
    "CLOSECALL_MAX_BATCH": "5",
    "CLOSECALL_DEVICE_RATE_PER_S": "0.01",
    "CLOSECALL_DEVICE_RATE_BURST": "6",
}


def test_every_limit_has_its_status_and_shape(make_stack: StackFactory, broker: Broker) -> None:
    stack = make_stack(broker.bootstrap, env=LIMITS)
    _key, token = enrolled(stack, "Limits")
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def post(body: bytes, **headers: str) -> httpx.Response:
        return stack.ingest.post("/v1/calls", content=body, headers={**auth, **headers})

    calls = wire_calls(6, "lim-")
    answers = {
        "too large": post(json.dumps({"calls": calls, "pad": "x" * 5000}).encode()),
        "gzip bomb": post(
            gzip.compress(b'{"calls": [' + b" " * 1_000_000 + b"]}"), **{"Content-Encoding": "gzip"}
        ),
        "batch": post(json.dumps({"calls": calls}).encode()),
        "not json": post(b"{calls: nope"),
    }
    expected = {
        "too large": (413, "payload_too_large"),
        "gzip bomb": (413, "payload_too_large"),
        "batch": (413, "batch_too_large"),
        "not json": (422, "invalid_json"),
    }
    for name, answer in answers.items():
        assert (answer.status_code, answer.json()["error"]["code"]) == expected[name], name
        assert set(answer.json()["error"]) == {"code", "message", "fields"}
    assert answers["batch"].json()["error"]["fields"] == [
        {"path": "calls", "message": "at most 5 items"}
    ]

    long_name = {**calls[0], "name": "n" * 300}
    partly = post(json.dumps({"calls": [long_name, calls[1]]}).encode())
    assert partly.status_code == 202
    assert partly.json()["accepted"] == 1
    assert partly.json()["rejected"][0]["errors"][0]["path"] == "name"

    assert post(json.dumps({"calls": calls[:2]}).encode()).status_code == 202  # the 6th request
    limited = post(json.dumps({"calls": calls[:2]}).encode())
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) >= 1
