"""A company's own lead fields (API.md "Leads"): an admin declares each (text, number, date or
a choice of values); a lead's values are checked against them wherever a lead is written (the
JSON API, the CSV import by column name, Zapier) and shown, downloaded and exported with it."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, Field, model_validator
from sqlalchemy.engine import Connection

from api.leads.models import FieldError
from core.controlplane import insert_new, lead_fields

Kind = Literal["text", "number", "date", "choice"]
MAX_FIELDS = 50
TEXT_LIMIT = 1000
Value = str | int | float | None


class FieldSpec(BaseModel):
    key: str = Field(
        pattern=r"^[a-z][a-z0-9_]{0,39}$",
        description="lower case, digits and _ (a JSON key, a CSV column, a Zapier field)",
    )
    label: str = Field(min_length=1, max_length=100, description="as people read it")
    kind: Kind
    choices: list[str] = Field(
        default_factory=list, max_length=100, description="a choice field's values, in order"
    )

    @model_validator(mode="after")
    def _choices(self) -> FieldSpec:
        if self.kind == "choice":
            if not self.choices or len(set(self.choices)) != len(self.choices):
                raise ValueError("a choice field names its distinct values in `choices`")
            if any(not 0 < len(c.strip()) <= 100 for c in self.choices):
                raise ValueError("each choice is 1 to 100 characters")
        elif self.choices:
            raise ValueError("only a choice field has `choices`")
        return self


class FieldList(BaseModel):
    items: list[FieldSpec]


def declared(db: Connection, company_id: str) -> dict[str, FieldSpec]:
    rows = db.execute(
        sa.select(lead_fields)
        .where(lead_fields.c.company_id == company_id)
        .order_by(lead_fields.c.created_at, lead_fields.c.field_key)
    )
    return {
        row.field_key: FieldSpec(
            key=row.field_key, label=row.label, kind=row.kind, choices=json.loads(row.choices)
        )
        for row in rows
    }


def declare(db: Connection, company_id: str, spec: FieldSpec, now: datetime) -> bool:
    """The field added; False when the key is taken or the company has MAX_FIELDS already."""
    if len(declared(db, company_id)) >= MAX_FIELDS:
        return False
    row = {
        "company_id": company_id,
        "field_key": spec.key,
        "label": spec.label,
        "kind": spec.kind,
        "choices": json.dumps(spec.choices),
        "created_at": now,
    }
    return bool(insert_new(db, lead_fields, [row]))


def drop(db: Connection, company_id: str, key: str) -> bool:
    """The declaration goes (its values: api/leads/store.drop_field)."""
    gone = lead_fields.delete().where(
        lead_fields.c.company_id == company_id, lead_fields.c.field_key == key
    )
    return bool(db.execute(gone).rowcount)


def checked(
    given: dict[str, Any], specs: dict[str, FieldSpec]
) -> tuple[dict[str, Value], list[FieldError]]:
    """The values normalised by their field's kind (a number from text, a date as YYYY-MM-DD, a
    choice as declared), and an error naming each value that fits no field."""
    values: dict[str, Value] = {}
    errors = []
    for key, raw in given.items():
        spec = specs.get(key)
        path = f"custom.{key}"
        if spec is None:
            errors.append(FieldError(path=path, message="no such field: an admin declares it"))
            continue
        value, problem = _value(spec, raw)
        if problem:
            errors.append(FieldError(path=path, message=problem))
        else:
            values[key] = value
    return values, errors


def _value(spec: FieldSpec, raw: Any) -> tuple[Value, str | None]:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None, None  # clears it
    if spec.kind == "number":
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            return None, "a number"
        try:
            number = float(raw)
        except ValueError:
            return None, f"{raw!r} is not a number"
        if number != number or number in (float("inf"), float("-inf")):
            return None, "a finite number"
        return (int(number) if number.is_integer() and abs(number) < 2**53 else number), None
    if not isinstance(raw, str):
        return None, f"text ({spec.kind})"
    text = raw.strip()
    if spec.kind == "date":
        try:
            return date.fromisoformat(text).isoformat(), None
        except ValueError:
            return None, f"{text!r} is not a date: write YYYY-MM-DD"
    if spec.kind == "choice":
        chosen = next((c for c in spec.choices if c.casefold() == text.casefold()), None)
        if chosen is None:
            return None, f"one of {', '.join(spec.choices)}"
        return chosen, None
    if len(text) > TEXT_LIMIT:
        return None, f"at most {TEXT_LIMIT} characters"
    return text, None


def merged(stored: str, values: dict[str, Value]) -> str:
    """The lead's values with `values` applied (None removes one), as stored."""
    current: dict[str, Value] = json.loads(stored or "{}")
    for key, value in values.items():
        if value is None:
            current.pop(key, None)
        else:
            current[key] = value
    return json.dumps(current, sort_keys=True)


def shown(stored: str, specs: dict[str, FieldSpec] | None) -> dict[str, Value]:
    """A lead's values of the fields declared now (all of them when `specs` is None)."""
    values: dict[str, Value] = json.loads(stored or "{}")
    return values if specs is None else {k: v for k, v in values.items() if k in specs}
