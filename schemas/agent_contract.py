"""The agent contract for the Android developers: JSON Schema of every payload a phone sends
(and of the call list it fetches, `device-leads`), written by `closecall agent-schema` into schemas/agent/ (committed; a test keeps it current)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from schemas.json_documents import write_documents
from schemas.payloads import (
    CallNote,
    CallsUpload,
    ContactsUpload,
    DeviceFollowups,
    DeviceLeads,
    DeviceStatus,
    EnrollRequest,
)

AGENT_PAYLOADS: dict[str, type[BaseModel]] = {
    "enroll-request.v1": EnrollRequest,
    "calls-upload.v1": CallsUpload,
    "device-status.v1": DeviceStatus,
    "contacts-upload.v1": ContactsUpload,
    "call-note.v1": CallNote,
    "device-leads.v1": DeviceLeads,  # an answer: GET /v1/device/leads
    "device-followups.v1": DeviceFollowups,  # an answer: GET /v1/device/followups
}
SCHEMA_DIR = Path(__file__).parent / "agent"


def agent_schemas() -> dict[str, dict[str, Any]]:
    return {
        name: {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            **model.model_json_schema(),
        }
        for name, model in AGENT_PAYLOADS.items()
    }


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON Schema with every `$defs` reference inlined, for embedding in OpenAPI."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(definitions[node["$ref"].rsplit("/", 1)[-1]])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


def write_agent_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    return write_documents(directory, agent_schemas(), ".schema.json")
