"""The SQL of every manager report, as plain functions over a company-scoped ClickHouse, one
module per family; each implements one definition of METRICS.md and api/reports/routes.py only
translates HTTP. This package's names are what the routes, tests and benchmarks call."""

from core.paging import Page
from core.reports.queries.client_lists import customers, never_attended, not_picked_up
from core.reports.queries.counts import GroupBy, analytics, employee_rows, summary
from core.reports.queries.working_time import team_totals, working_days, working_hours

__all__ = [
    "GroupBy",
    "Page",
    "analytics",
    "customers",
    "employee_rows",
    "never_attended",
    "not_picked_up",
    "summary",
    "team_totals",
    "working_days",
    "working_hours",
]
