"""schemathesis against the report API's own OpenAPI document, through the real service with a
valid API key over real data: whatever a client sends, including the values that once answered
500 (given to schemathesis as examples of their parameters), no answer is a 5xx."""

from __future__ import annotations

import base64
import copy
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import shared_stack
from tests.support.fuzzing import assert_conforms
from tests.support.services import Broker
from tests.support.stack import Stack, eventually
from tests.test_faults import wire_calls
from tests.test_pipeline_e2e import summary, upload
from tests.test_sign_in import bearer


def _cursor(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode()


# The values of the security review that answered 500 or reset the connection.
HOSTILE_EXAMPLES: dict[str, list[Any]] = {
    "tz": ["A" * 300, "right/UTC", "posix/Asia/Kolkata", "../../../etc/passwd", "Asia/Kolkata"],
    "from": ["0001-01-01", "1969-07-20T20:17:00+00:00", "2026-03-02"],
    "to": ["9999-12-31", "9999-12-31T23:59:59+14:00", "2026-03-02"],
    "cursor": [
        _cursor('[Infinity, "x"]'),
        _cursor("[" * 300 + "]" * 300),
        _cursor(f'[{10**30}, "x"]'),
        _cursor('[-1000000000000, "x"]'),
        _cursor(f'[{2**32}, "x"]'),
        _cursor(f'[{2**64}, "x"]'),
    ],
}


def with_hostile_examples(document: dict[str, Any]) -> dict[str, Any]:
    for operations in document["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                values = HOSTILE_EXAMPLES.get(parameter["name"])
                if values:
                    parameter["examples"] = {
                        f"hostile-{n}": {"value": value} for n, value in enumerate(values)
                    }
    return document


@pytest.fixture(scope="module")
def loaded_stack(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from shared_stack(broker, tmp_path_factory)


@pytest.fixture(scope="module")
def api_key(loaded_stack: Stack) -> str:
    key = loaded_stack.signup("Fuzzed", plan="basic_lead")["api_key"]  # leads fuzzed too
    token = loaded_stack.enrolled_device(key, "Asha", "hw-1")["device_token"]
    calls = wire_calls(200, "f-")
    numbers = {"numbers": [call["number"] for call in calls[:20]]}
    assert (
        loaded_stack.api.post("/v1/numbers", json=numbers, headers=bearer(key)).status_code == 200
    )
    assert upload(loaded_stack, token, calls).status_code == 202
    eventually(lambda: summary(loaded_stack, key, **{"from": "2026-03-02"})["total_calls"] == 200)
    return key


@pytest.mark.stack
def test_report_api_never_answers_5xx(loaded_stack: Stack, api_key: str) -> None:
    base = f"http://127.0.0.1:{loaded_stack.api_port}"
    document = httpx.get(f"{base}/openapi.json").json()
    hostile = with_hostile_examples(copy.deepcopy(document))
    auth = {"Authorization": f"Bearer {api_key}"}
    # reads only: writes (DELETE, PATCH) would take away the data the reads need
    paths = assert_conforms(
        document,
        base,
        auth,
        max_examples=30,
        keep=lambda op: op.method.upper() == "GET",
        hostile=hostile,
    )
    assert paths >= {"/v1/calls", "/v1/reports/working-hours", "/v1/leads", "/v1/reports/leads"}
