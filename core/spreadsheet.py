"""The one writer of every CSV file the product emits (the company export, and every download
after it): cells that a spreadsheet would run as a formula are neutralised (OWASP "CSV
injection"): a text cell beginning with `=`, `+`, `-`, `@`, a tab or a carriage return (or
their full-width forms, which some spreadsheets fold) gets a leading `'`, which spreadsheets
show as text and do not display. A plain number (`+919876543210`, `-12.5`) is left as it is: it
evaluates to itself, and an E.164 number must stay readable."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from typing import IO, Any

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
