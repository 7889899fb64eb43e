"""The one CSV writer: no cell a spreadsheet would run, each leading character of the review's
findings tested, plain numbers kept, every other text kept exactly (property-based)."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.spreadsheet import FORMULA_STARTS, PLAIN_NUMBER, SafeCsvWriter, neutral


def written(value: object) -> str:
    text = io.StringIO(newline="")
    writer = SafeCsvWriter(text, ["cell"])
    writer.writeheader()
    writer.writerow({"cell": value})
    return next(csv.DictReader(io.StringIO(text.getvalue(), newline="")))["cell"]


@pytest.mark.parametrize(
    "attack",
    [
        "=cmd|' /C calc'!A0",
        '=HYPERLINK("http://evil.example","x")',
        "+1+cmd|' /C calc'!A0",
        "-1+2",
        "@SUM(1+1)*cmd|' /C calc'!A0",
        "\t=1+1",
        "\r=1+1",
        "\uff1d1+1",
        "\uff0b1+1",
        "\uff0d1+1",
        "\uff20SUM(A1)",
    ],
)
def test_each_leading_character_is_neutralised(attack: str) -> None:
    assert written(attack) == "'" + attack


@pytest.mark.parametrize("number", ["+919876543210", "-12", "-12.50", "42"])
def test_plain_numbers_stay_as_they_are(number: str) -> None:
    assert written(number) == number


@given(st.one_of(st.text(), st.integers(), st.floats(allow_nan=False), st.none()))
def test_no_cell_runs_and_nothing_else_changes(value: object) -> None:
    cell = neutral(value)
    if not isinstance(value, str):
        assert cell is value
        return
    risky = value.startswith(FORMULA_STARTS) and not PLAIN_NUMBER.fullmatch(value)
    assert cell == ("'" + value if risky else value)
    assert not (str(cell).startswith(FORMULA_STARTS) and not PLAIN_NUMBER.fullmatch(cell))
