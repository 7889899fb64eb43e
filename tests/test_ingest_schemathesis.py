"""schemathesis against ingest's own OpenAPI document, through the real service: whatever a
phone (or an attacker) sends, ingest never answers with a 5xx."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import shared_stack
from tests.support.fuzzing import assert_conforms
from tests.support.services import Broker
from tests.support.stack import Stack
from tests.test_faults import enrolled

# Bodies of the security review that answered 500 or stalled the worker, as examples.
HOSTILE_BODIES: dict[str, list[Any]] = {
    "/v1/device/status": [
        {"at": "2026-03-02T10:30:00+05:30", "battery_pct": 50, "app_version_code": 10**30},
        {"at": "2026-03-02T10:30:00+05:30", "battery_pct": 50, "app_version_code": 2**32},
        {"at": "0001-01-01T00:00:00Z", "battery_pct": 50},
    ],
    "/v1/calls": [
        {"calls": [{"id": 1, "type": 1, "started_at": "0001-01-01T00:00:00Z", "duration_s": 1}]},
        {"calls": [{"id": 1, "type": 1, "started_at": 10**30, "duration_s": 1}]},
        {"calls": [{"id": 1, "type": 1, "started_at": 1772430000000, "duration_s": 2**64}]},
    ],
    "/v1/devices/enroll": [
        {"code": "K7QX-3M9P-Z2TA", "device": {"device_id": "x", "app_version_code": 10**30}}
    ],
}


def with_hostile_examples(document: dict[str, Any]) -> dict[str, Any]:
    for path, bodies in HOSTILE_BODIES.items():
        content = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        content["examples"] = {f"hostile-{n}": {"value": body} for n, body in enumerate(bodies)}
    return document


UNLIMITED = {"CLOSECALL_DEVICE_RATE_PER_S": "100000", "CLOSECALL_DEVICE_RATE_BURST": "100000"}


@pytest.fixture(scope="module")
def fuzzed_stack(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from shared_stack(broker, tmp_path_factory, UNLIMITED)


@pytest.fixture(scope="module")
def device_token(fuzzed_stack: Stack) -> str:
    return enrolled(fuzzed_stack, "Fuzz")[1]


@pytest.mark.stack
def test_ingest_never_answers_5xx(fuzzed_stack: Stack, device_token: str) -> None:
    base = f"http://127.0.0.1:{fuzzed_stack.ingest_port}"
    document = httpx.get(f"{base}/openapi.json").json()
    hostile = with_hostile_examples(copy.deepcopy(document))
    auth = {"Authorization": f"Bearer {device_token}"}
    paths = assert_conforms(document, base, auth, max_examples=40, hostile=hostile)
    assert paths >= {"/v1/calls", "/v1/devices/enroll", "/readyz"}
