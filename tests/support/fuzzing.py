"""schemathesis driven through its strategies (its pytest plugin does not load under pytest 9):
every operation of a document, fuzzed and with the document's own examples."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import CHECKS as REGISTERED
from schemathesis.checks import load_all_checks

# `--checks all`: every check schemathesis has (no 5xx, every status, media type, header and
# body as declared, invalid data refused, Allow on 405, authentication
# not ignored, ...)
load_all_checks()
# ...but one: "schema-valid data is accepted" (positive_data_acceptance). Some rules are
# relative to now or to another value, and no OpenAPI document can state them: a status `at`
# in the future, a range that ends after 2100 or before it starts, an employee of another
# company. Each of those is refused by design with a 422 naming its field, which the other
# checks hold to the document's error shape.
CHECKS: list[Any] = [
    check
    for check in REGISTERED.get_all()
    if getattr(check, "__name__", "") != "positive_data_acceptance"
]


def assert_conforms(
    document: dict[str, Any],
    base_url: str,
    headers: dict[str, str],
    max_examples: int,
    keep: Callable[[Any], bool] = lambda _operation: True,
    hostile: dict[str, Any] | None = None,
) -> set[str]:
    """Call every kept operation with generated cases, then with the examples `hostile` (the
    same document with the review's values as examples) adds, under CHECKS. Fails on any 5xx,
    any status, media type, header or body the document does not declare, data the document
    calls invalid taken, ... Returns the paths the document has."""
    for operation in operations_of(document, base_url, keep):
        run(operation.as_strategy(), CHECKS, headers, max_examples)
    for operation in operations_of(hostile or {"paths": {}}, base_url, keep):
        examples = operation.get_strategies_from_examples()
        if examples:
            run(st.one_of(examples), CHECKS, headers, max_examples)
    return set(document["paths"])


def operations_of(document: dict[str, Any], base_url: str, keep: Callable[[Any], bool]) -> Any:
    if not document["paths"]:
        return []
    schema = schemathesis.openapi.from_dict(document)
    schema.config.update(base_url=base_url)
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    return filter(keep, operations)


def run(
    cases: st.SearchStrategy[Any], checks: list[Any], headers: dict[str, str], max_examples: int
) -> None:
    @given(case=cases)
    @settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def conforms(case: schemathesis.Case[Any]) -> None:
        case.call_and_validate(headers=headers, checks=checks)

    conforms()
