"""Request and response bodies of the agent (ingest) API: what a phone may send, validated per record."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    StrictFloat,
    StringConstraints,
)
from pydantic.json_schema import WithJsonSchema

from schemas.column_types import EARLIEST_TIME, LATEST_TIME, stored_as


class CallType(StrEnum):
    INCOMING = "incoming"
    OUTGOING = "outgoing"
    MISSED = "missed"
    VOICEMAIL = "voicemail"
    REJECTED = "rejected"
    BLOCKED = "blocked"
    ANSWERED_EXTERNALLY = "answered_externally"


# Android CallLog.Calls.TYPE codes the agent may send instead of the name.
ANDROID_CALL_TYPE_CODES: dict[int, CallType] = {
    1: CallType.INCOMING,
    2: CallType.OUTGOING,
    3: CallType.MISSED,
    4: CallType.VOICEMAIL,
    5: CallType.REJECTED,
    6: CallType.BLOCKED,
    7: CallType.ANSWERED_EXTERNALLY,
}
CONNECTABLE_TYPES = (CallType.INCOMING, CallType.OUTGOING)
MAX_CALL_DURATION_S = 86_400
# Google Play's largest versionCode; also within the control plane's INTEGER column
ANDROID_MAX_VERSION_CODE = 2_100_000_000


_CALL_TYPES_BY_NAME = {t.value: t for t in CallType}


def parse_call_type(value: Any) -> CallType:
    """A call type from its name (any case) or its Android code (int or numeric string)."""
    if type(value) is str and value in _CALL_TYPES_BY_NAME:  # what ingest forwards: the fast path
        return _CALL_TYPES_BY_NAME[value]
    if isinstance(value, bool):
        raise ValueError("call type must be a name or an Android code, not a boolean")
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int):
        if value in ANDROID_CALL_TYPE_CODES:
            return ANDROID_CALL_TYPE_CODES[value]
    elif isinstance(value, str):
        try:
            return CallType(value.strip().lower())
        except ValueError:
            pass
    names = ", ".join(t.value for t in CallType)
    raise ValueError(f"unknown call type {value!r}: use one of {names} or an Android code 1-7")


_EARLIEST_MS = int(EARLIEST_TIME.timestamp() * 1000)
_LATEST_MS = int(LATEST_TIME.timestamp() * 1000)


def _whole(value: Any) -> Any:
    """A JSON number without a fraction (`10.0`) is an integer, as JSON Schema says; a string
    or a boolean never is (Strict refuses them)."""
    if type(value) is float and value.is_integer():
        return int(value)
    return value


def _time_value(value: Any) -> Any:
    """RFC 3339 with an offset, or epoch milliseconds (Android's CallLog.Calls.DATE)."""
    value = _whole(value)
    if isinstance(value, int) and not isinstance(value, bool):
        if not _EARLIEST_MS <= value < _LATEST_MS:
            raise ValueError("epoch milliseconds must be between 2000 and 2100")
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=value)
    if not isinstance(value, str | datetime):
        raise ValueError(
            "must be an RFC 3339 date-time string with a UTC offset or epoch milliseconds"
        )
    return value


def _storable_time(value: datetime) -> datetime:
    if not EARLIEST_TIME <= value < LATEST_TIME:
        raise ValueError("must be between 2000-01-01 and 2100-01-01 (is the phone's clock right?)")
    return value


def _id_string(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and not value.strip():
        raise ValueError("must be the phone's non-empty id of the call")
    return value


# What Android's call log and OEM dialers put in place of a number they did not get: the call
# is kept, without a number (a private call).
NO_NUMBER_MARKERS = frozenset(
    {
        "-1",
        "-2",
        "-3",
        "-4",
        "private",
        "unknown",
        "anonymous",
        "withheld",
        "restricted",
        "payphone",
    }
)
# What a phone writes in a number otherwise: ASCII digits and dialling punctuation (`,` and `;`
# are Android's pause and wait); a letter (`1-800-FLOWERS`), a control or bidi character, a
# non-ASCII digit is an error of its record, never a private call.
DIALABLE = re.compile(r"[0-9+\-(). *#/,;]*")


def dialable_number(value: str) -> str:
    if value.lower() not in NO_NUMBER_MARKERS and not DIALABLE.fullmatch(value):
        raise ValueError("a phone number holds ASCII digits, spaces and + - ( ) . * # / , ; only")
    return value


def _either_case(marker: str) -> str:
    """`private` as `[Pp][Rr]...` (the markers hold letters, digits and `-` only)."""
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in marker)


# the same rule for the OpenAPI document (ECMA regular expressions have no (?i))
PHONE_PATTERN = (
    "^[0-9+\\-(). *#/,;]*$|^(" + "|".join(_either_case(m) for m in sorted(NO_NUMBER_MARKERS)) + ")$"
)
PhoneText = Annotated[
    str,
    StringConstraints(max_length=64),
    AfterValidator(dialable_number),
    WithJsonSchema(
        {
            "type": "string",
            "maxLength": 64,
            "pattern": PHONE_PATTERN,
            "description": "digits and dialling punctuation, empty or a private-number marker",
        }
    ),
]


# last in an integer's Annotated, so the bounds before it stay in the JSON schema
WHOLE = BeforeValidator(_whole)
OffsetDateTime = Annotated[
    AwareDatetime,
    BeforeValidator(_time_value),
    AfterValidator(_storable_time),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date-time"},
                {"type": "integer", "minimum": _EARLIEST_MS, "exclusiveMaximum": _LATEST_MS},
            ],
            "description": "RFC 3339 with a UTC offset, or epoch milliseconds; 2000 to 2100",
        }
    ),
]
ClientId = Annotated[
    str,
    BeforeValidator(_id_string),
    StringConstraints(min_length=1, max_length=128),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string", "minLength": 1, "maxLength": 128}, {"type": "integer"}],
            "description": "the phone's own id of the call (CallLog._ID), unique per device",
        }
    ),
]
CallTypeField = Annotated[
    CallType,
    BeforeValidator(parse_call_type),
    WithJsonSchema(
        {
            "anyOf": [
                {"enum": [t.value for t in CallType], "type": "string"},
                {"type": "integer", "minimum": 1, "maximum": 7},
                {"type": "string", "pattern": "^\\s*[1-7]\\s*$"},
            ],
            "description": "a name (any case) or Android's CallLog.Calls.TYPE code 1-7",
        }
    ),
]


class CallRecord(BaseModel):
    """One call-log entry as the phone sends it. Unknown fields are ignored (newer agents)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    id: ClientId
    number: PhoneText = ""
    name: str | None = Field(default=None, max_length=256)
    type: CallTypeField
    started_at: OffsetDateTime
    duration_s: Annotated[int, Strict(), stored_as("UInt32", le=MAX_CALL_DURATION_S), WHOLE]
    sim_slot: Annotated[int, Strict(), stored_as("Int8", ge=0, le=7), WHOLE] | None = None
    note: str | None = Field(default=None, max_length=4_000)


class FieldError(BaseModel):
    path: str
    message: str


class RejectedRecord(BaseModel):
    index: int
    id: str | None
    errors: list[FieldError]


class UploadAccepted(BaseModel):
    status: Literal["accepted"] = Field(description="durable in Kafka")


class ContactsAccepted(BaseModel):
    accepted: int = Field(description="contacts taken (all of the upload)")


class CallsAccepted(BaseModel):
    accepted: int
    rejected: list[RejectedRecord]


class Sim(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    slot: Annotated[int, Strict(), stored_as("Int8", ge=0, le=7), WHOLE]
    sim_id: str = Field(min_length=1, max_length=128)
    number: PhoneText | None = None
    carrier: str | None = Field(default=None, max_length=128)


class DeviceInfo(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    device_id: str = Field(min_length=1, max_length=128)
    brand: str = Field(default="", max_length=64)
    model: str = Field(default="", max_length=128)
    android_version: str = Field(default="", max_length=32)
    sdk_int: Annotated[int, Strict(), stored_as("UInt16", le=1000), WHOLE] = 0
    app_version: str = Field(default="", max_length=64)
    app_version_code: Annotated[
        int, Strict(), stored_as("UInt32", le=ANDROID_MAX_VERSION_CODE), WHOLE
    ] = 0
    fcm_token: str | None = Field(default=None, max_length=4096)
    sims: list[Sim] = Field(default_factory=list, max_length=8)


class EnrollRequest(BaseModel):
    code: str = Field(min_length=4, max_length=64)
    device: DeviceInfo


class DeviceLimits(BaseModel):
    max_batch: int
    max_body_bytes: int


class EnrollResponse(BaseModel):
    device_token: str
    device_id: str
    employee_id: str
    company_id: str
    limits: DeviceLimits


class CallsPayload(BaseModel):
    """Calls of one upload as they travel on the raw topic, with when ingest accepted them."""

    synced_at: datetime
    calls: list[CallRecord]


class CallsUpload(BaseModel):
    """The body of POST /v1/calls (documentation only: ingest validates each record on its own)."""

    calls: list[CallRecord]


class Location(BaseModel):
    model_config = ConfigDict(extra="ignore")

    lat: StrictFloat = Field(ge=-90, le=90)
    lon: StrictFloat = Field(ge=-180, le=180)
    accuracy_m: StrictFloat | None = Field(default=None, ge=0, le=1_000_000)
    at: OffsetDateTime | None = None


class DeviceStatus(BaseModel):
    """POST /v1/device/status: the phone's health, sent periodically and after changes."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    at: OffsetDateTime
    battery_pct: Annotated[int, Strict(), stored_as("Int16", ge=0, le=100), WHOLE]
    charging: StrictBool | None = None
    location: Location | None = None
    app_version: str | None = Field(default=None, max_length=64)
    app_version_code: (
        Annotated[int, Strict(), stored_as("UInt32", le=ANDROID_MAX_VERSION_CODE), WHOLE] | None
    ) = None
    android_version: str | None = Field(default=None, max_length=32)
    sdk_int: Annotated[int, Strict(), stored_as("UInt16", le=1000), WHOLE] | None = None
    network: str | None = Field(default=None, max_length=32)
    fcm_token: str | None = Field(default=None, max_length=4096)
    sims: list[Sim] | None = Field(default=None, max_length=8)


class Contact(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    id: ClientId
    name: str = Field(default="", max_length=256)
    numbers: list[PhoneText] = Field(max_length=20)
    photo_url: str | None = Field(default=None, max_length=2048)


class ContactsUpload(BaseModel):
    """POST /v1/contacts: the phone's address book, or the part of it that changed."""

    contacts: list[Contact] = Field(max_length=1000)


class CallNote(BaseModel):
    """PUT /v1/calls/{id}/note: the employee's note on a call, written after the call."""

    note: str = Field(max_length=4_000)


class ContactsPayload(BaseModel):
    synced_at: datetime
    contacts: list[Contact]


class NotePayload(BaseModel):
    synced_at: datetime
    call_id: str  # the phone's id of the call
    note: str


class DeviceLead(BaseModel):
    """A lead as the phone gets it (`GET /v1/device/leads`): numbers in E.164 to dial."""

    id: str
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    primary_number: str | None = None
    secondary_number: str | None = None
    notes: str | None = None
    removed: StrictBool = Field(
        default=False, description="re-assigned away or deleted: drop it from the call list"
    )


class DeviceLeads(BaseModel):
    """The changes to the employee's leads since `cursor`; each lead at most once."""

    items: list[DeviceLead]
    next_cursor: str = Field(description="pass as `cursor` next time: only later changes")


class DeviceFollowup(BaseModel):
    """A follow-up as the phone gets it (`GET /v1/device/followups`): the number to dial."""

    id: str
    lead_id: str | None = None
    number: str = Field(description="E.164")
    due_at: datetime = Field(description="in the company's zone, with its offset")
    note: str | None = None


class DeviceFollowups(BaseModel):
    """The employee's open follow-ups, earliest due first."""

    items: list[DeviceFollowup]
