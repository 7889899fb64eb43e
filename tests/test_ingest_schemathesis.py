"""schemathesis against ingest's own OpenAPI document, through the real service: whatever a
phone (or an attacker) sends, ingest never answers with a 5xx."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.conftest import shared_stack
from tests.support.services import Broker
from tests.support.stack import Stack
from tests.test_faults import enrolled

UNLIMITED = {"CLOSECALL_DEVICE_RATE_PER_S": "100000", "CLOSECALL_DEVICE_RATE_BURST": "100000"}


@pytest.fixture(scope="module")
def fuzzed_stack(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from shared_stack(broker, tmp_path_factory, UNLIMITED)


@pytest.fixture(scope="module")
def device_token(fuzzed_stack: Stack) -> str:
    return enrolled(fuzzed_stack, "Fuzz")[1]


@pytest.mark.stack
def test_ingest_never_answers_5xx(fuzzed_stack: Stack, device_token: str) -> None:
    # schemathesis's pytest plugin does not load under pytest 9: drive its strategies directly
    schema = schemathesis.openapi.from_url(
        f"http://127.0.0.1:{fuzzed_stack.ingest_port}/openapi.json"
    )
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert {op.path for op in operations} >= {"/v1/calls", "/v1/devices/enroll", "/readyz"}
    auth = {"Authorization": f"Bearer {device_token}"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def no_server_error(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=auth, checks=[not_a_server_error])

        no_server_error()
