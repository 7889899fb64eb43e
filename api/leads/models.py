"""The shapes of leads in and out of the report API (API.md "Leads")."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    field_validator,
)

from api.leads.calls import LeadStatus as LeadStatus  # re-exported: the lead's models
from core.calls.items import CallItem

Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
Number = Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)]
# An address as a browser's email field reads it (WHATWG HTML "valid email address": a local
# part, `@`, dot-separated labels), letters of any script allowed, a top-level label that is no
# number. email-validator (EmailStr) took 60% of a 10,000-row
# import checking deliverability-grade rules a lead's address does not need.
_SPECIAL = r"\s@\"(),:;<>\[\]\\"  # never in an address outside quotes
_LABEL = rf"[^{_SPECIAL}.\-][^{_SPECIAL}.]{{0,62}}"
EMAIL = re.compile(rf"^[^{_SPECIAL}]+@(?:{_LABEL}\.)+[^{_SPECIAL}.\-\d][^{_SPECIAL}.]{{1,62}}$")


def _email(value: str) -> str:
    if not EMAIL.match(value):
        raise ValueError("not an email address")
    return value


Email = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=320), AfterValidator(_email)
]
CountryCode = Annotated[
    str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z]{2}$")
]

MAX_IMPORT_ROWS = 10_000


class Assign(StrEnum):
    round_robin = "round_robin"
    least_loaded = "least_loaded"
    none = "none"


class OnDuplicate(StrEnum):
    skip = "skip"
    update = "update"


class LeadFields(BaseModel):
    """What a lead is given: a JSON body, an element of an import, a CSV row (blank cells are
    absent). Numbers in any format; `country` (ISO 3166 alpha-2) reads them, else the
    company's."""

    model_config = ConfigDict(extra="forbid")

    first_name: Text | None = Field(default=None, max_length=100)
    last_name: Text | None = Field(default=None, max_length=100)
    company: Text | None = None
    email: Email | None = None
    primary_number: Number | None = None
    secondary_number: Number | None = None
    address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None
    country: CountryCode | None = None
    state: Text | None = Field(default=None, max_length=100)
    zip: Text | None = Field(default=None, max_length=20)
    notes: LongText | None = None
    employee_id: str | None = Field(
        default=None, max_length=320, description="assign to this employee (id or email)"
    )
    custom: dict[str, Any] | None = Field(
        default=None,
        max_length=50,
        description="the company's own fields by key (GET /v1/lead-fields); null clears one",
    )

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_absent(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value


class LeadCreate(LeadFields):
    pass


class LeadUpdate(LeadFields):
    """The fields to change; `employee_id` re-assigns (null: unassigned)."""


class Lead(BaseModel):
    id: str
    first_name: str | None
    last_name: str | None
    company: str | None
    email: str | None
    primary_number: str | None = Field(description="E.164; masked for viewer")
    secondary_number: str | None = Field(description="E.164; masked for viewer")
    address: str | None
    country: str | None
    state: str | None
    zip: str | None
    notes: str | None
    employee_id: str | None
    employee_name: str | None = Field(default=None, description="as the Employees page has it")
    employee_email: str | None = None
    status: LeadStatus
    calls: int = Field(description="calls with its numbers, by anyone, ever")
    connected_calls: int
    last_call_at: datetime | None
    created_at: datetime
    updated_at: datetime
    custom: dict[str, Any] = Field(
        default_factory=dict, description="the company's own fields by key (GET /v1/lead-fields)"
    )


ChangeKind = Literal["created", "assigned", "unassigned", "edited", "attempted", "connected"]


class LeadChange(BaseModel):
    at: datetime
    kind: ChangeKind = Field(
        description="attempted, connected: its status changed with its first call, its first"
        " connected call"
    )
    employee_id: str | None = Field(description="its employee after the change")
    employee_name: str | None
    fields: list[str] = Field(description="edited: the fields changed (never their values)")


class LeadDetail(Lead):
    recent_calls: list[CallItem] = Field(
        description="its latest calls (at most 100), newest first; more: GET /v1/calls?number="
    )
    history: list[LeadChange] = Field(description="oldest first, in the company's zone")


class LeadPage(BaseModel):
    items: list[Lead]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null: last")


class FieldError(BaseModel):
    path: str
    message: str


class RowError(BaseModel):
    row: int = Field(description="the 1-based data row (the CSV header is not counted)")
    errors: list[FieldError]


class ImportResult(BaseModel):
    created: int
    updated: int
    skipped: int = Field(description="rows whose number belongs to a lead already (skip)")
    errors: list[RowError]
    dry_run: StrictBool = False


class NumbersRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    numbers: list[Number] = Field(min_length=1, max_length=MAX_IMPORT_ROWS)
    assign: Assign = Assign.round_robin
    country: CountryCode | None = None
    employee_id: str | None = Field(default=None, max_length=320)
    team: str | None = Field(
        default=None, max_length=200, description="assign among this team's employees"
    )


class LeadAssignment(BaseModel):
    id: str = Field(description="one per assignment: the lead and when it was assigned")
    lead_id: str
    employee_id: str
    assigned_at: datetime
    lead: Lead
