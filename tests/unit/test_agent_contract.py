"""The agent contract: the committed JSON Schema is current, and every sample payload of phones in
the field keeps validating, against that schema and against the server's own validation."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest

from ingest.call_batches import calls_of, validate_calls
from ingest.identity import DeviceIdentity
from schemas.agent_contract import AGENT_PAYLOADS, SCHEMA_DIR, agent_schemas
from schemas.json_documents import render

CORPUS = sorted((Path(__file__).parents[1] / "agent_corpus" / "v1").glob("*.json"))
DEVICE = DeviceIdentity(device_id="d", company_id="c", employee_id="e", tracking_enabled=True)


@pytest.mark.parametrize("name", sorted(AGENT_PAYLOADS))
def test_committed_schema_is_current(name: str) -> None:
    committed = (SCHEMA_DIR / f"{name}.schema.json").read_text()
    assert committed == render(agent_schemas()[name]), "run `closecall agent-schema` and commit it"


@pytest.mark.parametrize("sample", CORPUS, ids=lambda p: p.name)
def test_field_payloads_keep_validating(sample: Path) -> None:
    payload = json.loads(sample.read_text())
    kind = sample.name.split(".")[0] + ".v1"
    jsonschema.validate(payload, agent_schemas()[kind])
    AGENT_PAYLOADS[kind].model_validate(payload)
    if kind == "calls-upload.v1":
        batch = validate_calls(calls_of(payload, 500), DEVICE, datetime(2026, 3, 2, 12, tzinfo=UTC))
        assert batch.rejected == [] and batch.accepted == len(payload["calls"])


def test_corpus_covers_every_payload() -> None:
    assert {p.name.split(".")[0] + ".v1" for p in CORPUS} == set(AGENT_PAYLOADS)
