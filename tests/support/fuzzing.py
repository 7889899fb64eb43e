"""schemathesis driven through its strategies (its pytest plugin does not load under pytest 9):
every operation of a document, fuzzed and with the document's own examples."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

# no 5xx, every status declared, every body in its declared shape
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


def assert_conforms(
    document: dict[str, Any],
    base_url: str,
    headers: dict[str, str],
    max_examples: int,
    keep: Callable[[Any], bool] = lambda _operation: True,
) -> set[str]:
    """Call every kept operation with generated and example cases; fails on any 5xx, any
    status the document does not declare and any body not in its declared shape. Returns the
    paths the document has."""
    schema = schemathesis.openapi.from_dict(document)
    schema.config.update(base_url=base_url)
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    for operation in filter(keep, operations):
        strategies = [operation.as_strategy(), *operation.get_strategies_from_examples()]

        @given(case=st.one_of(strategies))
        @settings(
            max_examples=max_examples,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def no_server_error(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        no_server_error()
    return {operation.path for operation in operations}
