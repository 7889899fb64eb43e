"""Rows of a lead import, as plain functions: a CSV file as spreadsheets export it (the standard
library's `csv`; its Sniffer reads the delimiter off the header row) or a JSON array, each row
validated into `LeadFields` and its numbers normalised to E.164, or the row's errors."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from api.leads.models import MAX_IMPORT_ROWS, FieldError, LeadFields
from core.calls.phone_numbers import normalise_number
from core.errors import Invalid, TooLarge, validation_fields

# Column names as people write them, after lower-casing and turning runs of spaces, dashes,
# dots and underscores into one underscore. `name` is split into first and last name.
ALIASES: dict[str, tuple[str, ...]] = {
    "first_name": ("first_name", "firstname", "first", "given_name", "forename"),
    "last_name": ("last_name", "lastname", "last", "surname", "family_name"),
    "name": ("name", "full_name", "fullname", "contact_name", "lead_name", "customer_name"),
    "company": ("company", "company_name", "organisation", "organization", "business", "firm"),
    "email": ("email", "e_mail", "email_address", "mail", "email_id"),
    "primary_number": (
        "primary_number",
        "phone",
        "mobile",
        "number",
        "phone_number",
        "mobile_number",
        "mobile_no",
        "phone_no",
        "contact_number",
        "telephone",
        "tel",
        "cell",
        "primary_phone",
        "whatsapp",
    ),
    "secondary_number": (
        "secondary_number",
        "secondary_phone",
        "alternate_number",
        "alternate_phone",
        "alt_phone",
        "alt_number",
        "phone_2",
        "phone2",
        "mobile_2",
        "mobile2",
        "other_phone",
        "landline",
    ),
    "address": ("address", "street", "address_line", "street_address"),
    "country": ("country", "country_code"),
    "state": ("state", "province", "region"),
    "zip": ("zip", "zip_code", "zipcode", "postal_code", "postcode", "pin", "pincode", "pin_code"),
    "notes": ("notes", "note", "comments", "comment", "remarks", "description"),
    "employee_id": ("employee_id", "employee", "assigned_to", "assignee", "employee_email"),
}
CUSTOM = "custom:"  # a column of the company's own fields: custom:<key>
COLUMN_OF = {alias: field for field, aliases in ALIASES.items() for alias in aliases}
_SEPARATORS = re.compile(r"[\s\-._]+")
DELIMITERS = ",;\t"
NO_DELIMITER = "\x1f"  # ASCII unit separator: in no spreadsheet's text


def column_name(header: str) -> str:
    """A column's name as matched: lower case, runs of spaces, dashes, dots as one `_`."""
    return _SEPARATORS.sub("_", header.strip().lower()).strip("_")


def column_field(header: str, custom: dict[str, str] | None = None) -> str | None:
    """The field a column fills: a lead field by its aliases, else one of the company's own
    (`custom`: column name -> field key) as `custom:<key>`."""
    name = column_name(header)
    if name in COLUMN_OF:
        return COLUMN_OF[name]
    key = (custom or {}).get(name)
    return f"{CUSTOM}{key}" if key else None


def too_many_rows() -> TooLarge:
    return TooLarge(
        "too_many_rows",
        f"an import holds at most {MAX_IMPORT_ROWS:,} rows; split the file",
    )


def delimiter_of(text: str) -> str:
    """The delimiter of the header row (column names hold none); a file of one column has
    none, so its cells keep every comma and semicolon (a delimiter that no text holds)."""
    header_line = text.split("\n", 1)[0]
    try:
        delimiter: str = csv.Sniffer().sniff(header_line, delimiters=DELIMITERS).delimiter
    except csv.Error:
        return NO_DELIMITER
    return delimiter


def csv_rows(
    data: bytes, custom: dict[str, str] | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(1-based data row, {field: cell}) of every row that is not blank, in file order; the
    company's own fields (`custom`: column name -> key) under `custom`."""
    try:
        text = data.decode("utf-8-sig")  # with or without a byte-order mark
    except UnicodeDecodeError as exc:
        raise Invalid(
            "invalid_csv", f"the file is not UTF-8 (byte {exc.start}); save it as UTF-8"
        ) from exc
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter_of(text))
    try:
        header = next(reader, None)
        if not header:
            raise Invalid("invalid_csv", "the file has no header row")
        fields = [column_field(name, custom) for name in header]
        if "primary_number" not in fields and "secondary_number" not in fields:
            raise Invalid(
                "invalid_csv",
                "no phone column: name one `phone`, `mobile` or `primary_number`",
            )
        for row_number, cells in enumerate(reader, start=1):
            if row_number > MAX_IMPORT_ROWS:
                raise too_many_rows()
            if not any(cell.strip() for cell in cells):
                continue
            yield row_number, row_fields(fields, cells)
    except csv.Error as exc:
        raise Invalid("invalid_csv", f"the file is not valid CSV: {exc}") from exc


def row_fields(fields: list[str | None], cells: list[str]) -> dict[str, Any]:
    """The cells of known columns by field (the first non-blank one when two columns map to the
    same field); `name` becomes first and last name unless those have columns of their own."""
    row: dict[str, Any] = {}
    for field, cell in zip(fields, cells, strict=False):
        if field is not None and field.startswith(CUSTOM) and cell.strip():
            row.setdefault("custom", {}).setdefault(field.removeprefix(CUSTOM), cell)
        elif field is not None and cell.strip() and field not in row:
            row[field] = cell
    name = row.pop("name", None)
    if name and "first_name" not in row and "last_name" not in row:
        first, _, last = name.strip().partition(" ")
        row["first_name"] = first
        if last.strip():
            row["last_name"] = last
    return row


def json_rows(body: Any) -> Iterator[tuple[int, Any]]:
    if not isinstance(body, list):
        raise Invalid(
            "invalid_request", "the body is a JSON array of leads", [("body", "not an array")]
        )
    if len(body) > MAX_IMPORT_ROWS:
        raise too_many_rows()
    yield from enumerate(body, start=1)


@dataclass(frozen=True, slots=True)
class LeadInput:
    """A valid row: its fields and its numbers in E.164 (primary first; at least one)."""

    fields: LeadFields
    numbers: tuple[str, ...]


def validated(row: Any) -> LeadFields | list[FieldError]:
    try:
        return LeadFields.model_validate(row)
    except ValidationError as exc:
        return [FieldError(path=p, message=m) for p, m in validation_fields(exc.errors())]


def lead_numbers(
    fields: LeadFields, company_country: str, required: bool = True
) -> tuple[str, ...] | list[FieldError]:
    """The lead's numbers in E.164, read with its country or else the company's; a number that
    is no possible phone number is an error of its field, and so is none at all (`required`)."""
    region = fields.country or company_country
    numbers: list[str] = []
    errors = []
    for path in ("primary_number", "secondary_number"):
        raw = getattr(fields, path)
        if raw is None:
            continue
        number = normalise_number(raw, region)
        if number is None or not number.startswith("+"):
            errors.append(FieldError(path=path, message=f"not a phone number in {region}"))
        elif number not in numbers:
            numbers.append(number)
    if errors:
        return errors
    if required and not numbers:
        return [FieldError(path="primary_number", message="a lead needs a phone number")]
    return tuple(numbers)


def lead_input(row: Any, company_country: str) -> LeadInput | list[FieldError]:
    fields = validated(row)
    if isinstance(fields, list):
        return fields
    numbers = lead_numbers(fields, company_country)
    if isinstance(numbers, list):
        return numbers
    return LeadInput(fields=fields, numbers=numbers)
