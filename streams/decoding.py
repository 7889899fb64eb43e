"""Decoding a Kafka record into its event model; what cannot be decoded is unprocessable."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError


class UnprocessableRecord(Exception):
    """A record that can never be processed; it goes to the dead-letter topic with this reason."""


Event = TypeVar("Event", bound=BaseModel)


def decode_event(model: type[Event], raw: bytes) -> Event:
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        # The reason names fields only: pydantic's input echo could carry a number.
        fields = ", ".join(".".join(str(p) for p in err["loc"]) for err in exc.errors())
        kind = model.model_fields["type"].default
        raise UnprocessableRecord(f"not a {kind} v1 event (fields: {fields})") from None
