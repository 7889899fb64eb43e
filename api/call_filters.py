"""The common report parameters (range, employee_id, type) as one SQL condition on `calls FINAL`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Query

from api.deps import CurrentTenant, utc_now
from api.report_range import RangeError, ReportRange, parse_range
from api.tenancy import COMPANY_FILTER
from schemas.clickhouse import Param
from schemas.errors import ApiError
from schemas.payloads import parse_call_type


@dataclass(frozen=True, slots=True)
class CallFilter:
    range: ReportRange | None
    employee_ids: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    extra: tuple[str, ...] = field(default=())
    extra_params: tuple[tuple[str, Param], ...] = field(default=())

    def where(self) -> tuple[str, dict[str, Param]]:
        """`WHERE ...` text and its parameters; the company filter is always the first term."""
        terms = [COMPANY_FILTER]
        params: dict[str, Param] = dict(self.extra_params)
        if self.range is not None:
            terms.append("started_at >= toDateTime(%(start_ts)s)")
            terms.append("started_at < toDateTime(%(end_ts)s)")
            params.update(start_ts=self.range.start_ts, end_ts=self.range.end_ts)
        if self.employee_ids:
            terms.append("employee_id IN %(employee_ids)s")
            params["employee_ids"] = self.employee_ids
        if self.types:
            terms.append("type IN %(types)s")
            params["types"] = self.types
        terms.extend(self.extra)
        return "WHERE " + " AND ".join(terms), params


def parse_types(values: list[str]) -> tuple[str, ...]:
    try:
        return tuple(sorted({parse_call_type(value).value for value in values}))
    except ValueError as exc:
        raise ApiError(422, "invalid_request", str(exc), [("type", str(exc))]) from exc


def report_range(
    tenant: CurrentTenant,
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: Annotated[str | None, Query()] = None,
    tz: Annotated[str | None, Query()] = None,
) -> ReportRange:
    try:
        return parse_range(from_, to, tz, tenant.company.timezone, utc_now())
    except RangeError as exc:
        raise ApiError(422, "invalid_request", str(exc), [(exc.field, str(exc))]) from exc


Range = Annotated[ReportRange, Depends(report_range)]


def report_filter(
    rng: Range,
    employee_id: Annotated[list[str] | None, Query()] = None,
    type: Annotated[list[str] | None, Query()] = None,
) -> CallFilter:
    return CallFilter(
        range=rng, employee_ids=tuple(sorted(set(employee_id or ()))), types=parse_types(type or [])
    )


ReportFilter = Annotated[CallFilter, Depends(report_filter)]
