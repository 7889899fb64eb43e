"""Lead import rows: CSV files as spreadsheets write them read the same rows whatever the
dialect, byte-order mark, quoting and header case; a row's numbers and errors."""

from __future__ import annotations

import csv
import io
from typing import Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.leads.models import MAX_IMPORT_ROWS
from api.leads.rows import ALIASES, csv_rows, lead_input
from core.errors import DomainError

FIELDS = [field for field in ALIASES if field != "name"]
CELL = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x00")
    | st.sampled_from([",", ";", "\t", '"', "\n", " "]),
    min_size=1,
    max_size=12,
).filter(lambda text: text.strip() != "")


def spreadsheet(
    header: list[str],
    rows: list[list[str]],
    delimiter: str,
    quoting: Literal[0, 1, 2, 3],
    bom: bool,
    newline: str,
) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, quoting=quoting, lineterminator=newline)
    writer.writerow(header)
    writer.writerows(rows)
    return (("\ufeff" if bom else "") + out.getvalue()).encode()


def cased(draw: st.DrawFn, name: str) -> str:
    mode = draw(st.sampled_from(["lower", "upper", "title", "spaces"]))
    if mode == "spaces":
        return name.replace("_", " ").title()
    return {"lower": name.lower(), "upper": name.upper(), "title": name.title()}[mode]


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[bytes, list[dict[str, str]]]:
    fields = draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=6, unique=True))
    if "primary_number" not in fields:
        fields.insert(0, "primary_number")
    header = [cased(draw, draw(st.sampled_from(ALIASES[field]))) for field in fields]
    rows = draw(st.lists(st.lists(CELL, min_size=len(fields), max_size=len(fields)), max_size=8))
    data = spreadsheet(
        header,
        rows,
        draw(st.sampled_from([",", ";", "\t"])),
        draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL])),
        draw(st.booleans()),
        draw(st.sampled_from(["\r\n", "\n"])),
    )
    return data, [dict(zip(fields, row, strict=True)) for row in rows]


@given(csv_files())
def test_any_dialect_bom_quoting_and_header_case_reads_the_same_rows(
    case: tuple[bytes, list[dict[str, str]]],
) -> None:
    data, expected = case
    assert [row for _, row in csv_rows(data)] == expected


def test_rows_are_numbered_from_one_and_blank_rows_skipped() -> None:
    data = b"Name;Mobile\nAsha Rao;98765 43210\n;\nRavi;+91 98111 22222\n"
    assert list(csv_rows(data)) == [
        (1, {"first_name": "Asha", "last_name": "Rao", "primary_number": "98765 43210"}),
        (3, {"first_name": "Ravi", "primary_number": "+91 98111 22222"}),
    ]


def test_a_single_column_keeps_every_character() -> None:
    data = b"phone\n98765,43210\n"
    assert [row for _, row in csv_rows(data)] == [{"primary_number": "98765,43210"}]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"name,email\nA,a@b.c\n", "no phone column"),
        (b"phone\n\xff\xfe\n", "not UTF-8"),
        (b"", "no header row"),
    ],
)
def test_unreadable_files_name_the_fix(data: bytes, message: str) -> None:
    with pytest.raises(DomainError) as caught:
        list(csv_rows(data))
    assert (caught.value.status, message in caught.value.message) == (422, True)


def test_more_than_the_limit_is_413() -> None:
    data = ("phone\n" + "9876543210\n" * (MAX_IMPORT_ROWS + 1)).encode()
    with pytest.raises(DomainError) as caught:
        list(csv_rows(data))
    assert caught.value.status == 413


@pytest.mark.parametrize(
    ("row", "numbers"),
    [
        ({"primary_number": "98765 43210"}, ("+919876543210",)),
        ({"primary_number": "0091 98765-43210"}, ("+919876543210",)),
        ({"secondary_number": "(+91) 9876543210"}, ("+919876543210",)),
        ({"primary_number": "9876543210", "secondary_number": "+919876543210"}, ("+919876543210",)),
        ({"primary_number": "(415) 555-2671", "country": "us"}, ("+14155552671",)),
    ],
)
def test_numbers_become_e164_with_the_lead_country_else_the_company_one(
    row: dict[str, str], numbers: tuple[str, ...]
) -> None:
    parsed = lead_input(row, "IN")
    assert not isinstance(parsed, list)
    assert parsed.numbers == numbers


@pytest.mark.parametrize(
    ("row", "path"),
    [
        ({"first_name": "No number"}, "primary_number"),
        ({"primary_number": "12"}, "primary_number"),
        ({"primary_number": "9876543210", "secondary_number": "abc"}, "secondary_number"),
        ({"primary_number": "9876543210", "email": "not-an-email"}, "email"),
        ({"primary_number": "9876543210", "country": "India"}, "country"),
        ({"primary_number": "9876543210", "colour": "red"}, "colour"),
    ],
)
def test_a_bad_row_names_its_field(row: dict[str, str], path: str) -> None:
    errors = lead_input(row, "IN")
    assert isinstance(errors, list)
    assert [error.path for error in errors] == [path]
