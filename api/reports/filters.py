"""The common report parameters (range, employee_id, type) of a request: its FastAPI dependencies
make the core/reports/filters.py `CallFilter` the queries take."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from fastapi import Depends, Query
from sqlalchemy.engine import Connection

from api.deps import CurrentTenant, Db
from api.tenancy import Tenant
from core.clock import utc_now
from core.controlplane import employees
from core.errors import Invalid
from core.reports.filters import CallFilter
from core.reports.range import RangeError, ReportRange, parse_range, parse_zone
from schemas.payloads import parse_call_type


def parse_types(values: list[str]) -> tuple[str, ...]:
    try:
        return tuple(sorted({parse_call_type(value).value for value in values}))
    except ValueError as exc:
        raise Invalid("invalid_request", str(exc), [("type", str(exc))]) from exc


def report_zone(tenant: CurrentTenant, tz: str | None) -> ZoneInfo:
    """The zone of a report's times: `tz`, else the company's."""
    try:
        return parse_zone(tz) if tz else parse_zone(tenant.company.timezone, "timezone")
    except RangeError as exc:
        raise Invalid("invalid_request", str(exc), [(exc.field, str(exc))]) from exc


def report_range(
    tenant: CurrentTenant,
    from_: Annotated[
        str | None,
        Query(alias="from", description="a local date YYYY-MM-DD or an RFC 3339 instant"),
    ] = None,
    to: Annotated[
        str | None,
        Query(description="a local date (inclusive) or an RFC 3339 instant (exclusive)"),
    ] = None,
    tz: Annotated[
        str | None,
        Query(description="IANA zone of the range and the answer; default: the company's"),
    ] = None,
) -> ReportRange:
    try:
        return parse_range(from_, to, tz, tenant.company.timezone, utc_now())
    except RangeError as exc:
        raise Invalid("invalid_request", str(exc), [(exc.field, str(exc))]) from exc


Range = Annotated[ReportRange, Depends(report_range)]


def known_employees(
    db: Connection, tenant: Tenant, employee_ids: list[str] | None
) -> tuple[str, ...]:
    """The employee filter of a request: the requested ids, each of the caller's company and
    scope (422 otherwise), else the caller's whole scope (() for a whole company)."""
    wanted = tuple(sorted(set(employee_ids or ())))
    if wanted:
        query = sa.select(employees.c.id).where(
            employees.c.company_id == tenant.company.id, employees.c.id.in_(wanted)
        )
        if tenant.employee_ids is not None:
            query = query.where(employees.c.id.in_(tenant.employee_ids))
        found = set(db.execute(query).scalars())
        unknown = [e for e in wanted if e not in found]
        if unknown:
            message = f"unknown employee {unknown[0]}"
            raise Invalid("invalid_request", message, [("employee_id", message)])
    return tenant.visible(wanted)


def report_filter(
    tenant: CurrentTenant,
    db: Db,
    rng: Range,
    employee_id: Annotated[
        list[str] | None, Query(description="only these employees (repeatable)")
    ] = None,
    type: Annotated[
        list[str] | None, Query(description="only these call types, names or codes (repeatable)")
    ] = None,
) -> CallFilter:
    return CallFilter(
        range=rng,
        employee_ids=known_employees(db, tenant, employee_id),
        types=parse_types(type or []),
    )


ReportFilter = Annotated[CallFilter, Depends(report_filter)]
