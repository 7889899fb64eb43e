"""The one writer of every CSV and XLSX file the product emits (the company export, and every
table download): cells that a spreadsheet would run as a formula are neutralised (OWASP "CSV
injection"): a text cell beginning with `=`, `+`, `-`, `@`, a tab or a carriage return (or
their full-width forms, which some spreadsheets fold) gets a leading `'`, which spreadsheets
show as text and do not display. A plain number (`+919876543210`, `-12.5`) is left as it is: it
evaluates to itself, and an E.164 number must stay readable."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from typing import IO, Any

import xlsxwriter

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")


def neutral(value: Any) -> Any:
    """`value` as a cell no spreadsheet runs."""
    if (
        isinstance(value, str)
        and value.startswith(FORMULA_STARTS)
        and not PLAIN_NUMBER.fullmatch(value)
    ):
        return "'" + value
    return value


class SafeCsvWriter:
    """csv.DictWriter whose every cell passes through `neutral`."""

    def __init__(self, text: IO[str], columns: Iterable[str]) -> None:
        self._writer = csv.DictWriter(text, fieldnames=list(columns))

    def writeheader(self) -> None:
        self._writer.writeheader()

    def writerow(self, row: Mapping[str, Any]) -> None:
        self._writer.writerow({name: neutral(value) for name, value in row.items()})


def csv_bytes(columns: list[str], rows: Iterable[Mapping[str, Any]]) -> bytes:
    """A whole table as CSV (UTF-8 with a byte-order mark, so spreadsheets read accents)."""
    text = io.StringIO()
    writer = SafeCsvWriter(text, columns)
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return ("\ufeff" + text.getvalue()).encode()


def xlsx_bytes(sheet: str, columns: list[str], rows: Iterable[Mapping[str, Any]]) -> bytes:
    """A whole table as an XLSX workbook (XlsxWriter). Every text cell is written as text:
    no string becomes a formula, a number or a link, so `=HYPERLINK(...)` stays what it is
    (no leading `'` needed, unlike CSV). Numbers and booleans keep their types."""
    out = io.BytesIO()
    workbook = xlsxwriter.Workbook(
        out,
        {
            "in_memory": True,
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
        },
    )
    worksheet = workbook.add_worksheet(sheet[:31])
    bold = workbook.add_format({"bold": True})
    worksheet.write_row(0, 0, columns, bold)
    worksheet.freeze_panes(1, 0)
    for index, row in enumerate(rows, start=1):
        for column, name in enumerate(columns):
            value = row.get(name)
            if isinstance(value, str):
                worksheet.write_string(index, column, value)
            elif value is not None:
                worksheet.write(index, column, value)
    worksheet.autofit()
    workbook.close()
    return out.getvalue()
