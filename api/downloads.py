"""Every table of the report API as a file: `format=csv` or `format=xlsx` on a list or report
route answers the rows of its JSON answer, as validated by the same response model, one column
per field (nested fields as `parent.child`, lists joined with ", "), every time in the zone of
the answer (the range's `tz`, else the company's) with its offset written out. The files are
written by core/spreadsheet.py (formula-looking text neutralised)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import Depends, Query, Response
from pydantic import BaseModel

from core.spreadsheet import csv_bytes, xlsx_bytes

CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# what a downloadable route declares beside its JSON
DOWNLOADABLE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {CSV: {}, XLSX: {}},
        "description": "the JSON answer; with `format=csv` or `format=xlsx` its rows as a file",
    }
}
Format = Literal["json", "csv", "xlsx"]


def cell(value: Any, zone: ZoneInfo) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(zone).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return ", ".join(str(cell(item, zone)) for item in value)
    return value


def flat(row: Mapping[str, Any], zone: ZoneInfo, prefix: str = "") -> dict[str, Any]:
    """One row's cells: nested objects become `parent.child` columns."""
    cells: dict[str, Any] = {}
    for name, value in row.items():
        if isinstance(value, Mapping):
            cells.update(flat(value, zone, f"{prefix}{name}."))
        else:
            cells[f"{prefix}{name}"] = cell(value, zone)
    return cells


def columns_of(rows: list[dict[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


class Download:
    """The answer a route gives: its JSON (a dict, validated by FastAPI against the route's
    response model), or that answer's rows as a CSV or XLSX file."""

    def __init__(self, fmt: Format) -> None:
        self.format = fmt

    def __call__(
        self,
        answer: Any,
        model: type[BaseModel],
        name: str,
        zone: ZoneInfo,
        rows: str | None = "items",
    ) -> Any:
        """`rows`: the answer's field holding the table's rows; None: the answer is one row."""
        if self.format == "json":
            return answer
        shown = model.model_validate(answer)
        found: list[BaseModel] = getattr(shown, rows) if rows else [shown]
        cells = [flat(row.model_dump(), zone) for row in found]
        columns = columns_of(cells)
        if self.format == "csv":
            content, media = csv_bytes(columns, cells), f"{CSV}; charset=utf-8"
        else:
            content, media = xlsx_bytes(name, columns, cells), XLSX
        disposition = f'attachment; filename="{name}.{self.format}"'
        return Response(content, media_type=media, headers={"Content-Disposition": disposition})


def download(
    format: Annotated[
        Format, Query(description="json (default), or the rows as a csv or xlsx file")
    ] = "json",
) -> Download:
    return Download(format)


Downloads = Annotated[Download, Depends(download)]
