"""Who may call what: the one declared policy of the report API. Every route names the role it
needs here (or is public); `check_policy` refuses an application with a route missing from it,
or a protected route that does not authenticate through `current_tenant`."""

from __future__ import annotations

from enum import IntEnum

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts


class Role(IntEnum):
    """Each role includes the ones below it."""

    viewer = 1  # reads reports, history, devices
    manager = 2  # employees, enrollment codes, device syncs and revocations, leads
    admin = 3  # API keys, settings
    owner = 4  # users, subscription, erasure, company export


KEY_ROLES = (Role.admin, Role.manager, Role.viewer)  # an API key is never owner
PUBLIC = None

POLICY: dict[tuple[str, str], Role | None] = {
    ("POST", "/v1/signup"): PUBLIC,
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/version"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,  # aggregates only: no company, device or number in a label
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
    ("GET", "/console"): PUBLIC,  # the console's page and scripts: no data (api/console/routes.py)
    ("GET", "/console/"): PUBLIC,
    ("GET", "/console/assets/{name:path}"): PUBLIC,
    ("POST", "/v1/auth/login"): PUBLIC,
    ("POST", "/v1/auth/logout"): Role.viewer,
    ("POST", "/v1/auth/session"): PUBLIC,
    ("DELETE", "/v1/auth/session"): Role.viewer,
    ("POST", "/v1/auth/totp"): Role.viewer,
    ("POST", "/v1/auth/totp/confirm"): Role.viewer,
    ("DELETE", "/v1/auth/totp"): Role.viewer,
    ("POST", "/v1/auth/accept-invite"): PUBLIC,
    ("POST", "/v1/auth/link"): PUBLIC,
    ("GET", "/console/accept-invite"): PUBLIC,  # the pages emailed links open (the token is in
    ("GET", "/console/reset-password"): PUBLIC,  # the fragment: no server sees it)
    ("POST", "/v1/auth/password-reset"): PUBLIC,
    ("POST", "/v1/auth/password-reset/confirm"): PUBLIC,
    ("POST", "/v1/users"): Role.owner,
    ("GET", "/v1/users"): Role.owner,
    ("PATCH", "/v1/users/{user_id}"): Role.owner,
    ("DELETE", "/v1/users/{user_id}"): Role.owner,
    ("POST", "/v1/users/{user_id}/invitation"): Role.owner,
    ("GET", "/v1/audit"): Role.admin,
    ("GET", "/v1/me"): Role.viewer,
    ("GET", "/v1/me/digest"): Role.viewer,
    ("PUT", "/v1/me/digest"): Role.viewer,
    ("GET", "/v1/digest/unsubscribe"): PUBLIC,  # the token in the mail's link is the credential
    ("POST", "/v1/digest/unsubscribe"): PUBLIC,
    ("GET", "/v1/notifications"): Role.viewer,
    ("POST", "/v1/notifications/{notification_id}/read"): Role.viewer,
    ("GET", "/v1/policies"): PUBLIC,
    ("POST", "/v1/me/policies/{kind}/accept"): Role.viewer,
    ("GET", "/v1/reports/summary"): Role.viewer,
    ("GET", "/v1/reports/employees"): Role.viewer,
    ("GET", "/v1/reports/analytics"): Role.viewer,
    ("GET", "/v1/reports/never-attended"): Role.viewer,
    ("GET", "/v1/reports/not-picked-up"): Role.viewer,
    ("GET", "/v1/reports/customers"): Role.viewer,
    ("GET", "/v1/reports/working-hours"): Role.viewer,
    ("GET", "/v1/calls"): Role.viewer,
    ("GET", "/v1/changes/calls"): Role.viewer,
    ("GET", "/v1/changes/leads"): Role.viewer,
    ("POST", "/v1/followups"): Role.manager,
    ("GET", "/v1/followups"): Role.viewer,
    ("PATCH", "/v1/followups/{followup_id}"): Role.manager,
    ("GET", "/v1/devices"): Role.viewer,
    ("DELETE", "/v1/devices/{device_id}"): Role.manager,
    ("POST", "/v1/devices/{device_id}/sync"): Role.manager,
    ("GET", "/v1/employees"): Role.viewer,
    ("GET", "/v1/employees/{employee_id}"): Role.viewer,
    ("POST", "/v1/employees"): Role.manager,
    ("PATCH", "/v1/employees/{employee_id}"): Role.manager,
    ("DELETE", "/v1/employees/{employee_id}"): Role.manager,
    ("POST", "/v1/employees/{employee_id}/enrollment-codes"): Role.manager,
    ("GET", "/v1/employees/{employee_id}/enrollment-codes/{code_id}/qr.png"): Role.manager,
    ("GET", "/v1/teams"): Role.viewer,
    ("POST", "/v1/teams/rename"): Role.admin,
    ("GET", "/v1/api-keys"): Role.admin,
    ("POST", "/v1/api-keys"): Role.admin,
    ("DELETE", "/v1/api-keys/{key_id}"): Role.admin,
    ("GET", "/v1/company"): Role.admin,
    ("PATCH", "/v1/company"): Role.admin,  # plan and retention_days: owner (api/accounts/routes.py)
    ("POST", "/v1/company/cancel"): Role.owner,
    ("GET", "/v1/company/subscription"): Role.admin,
    ("POST", "/v1/billing/checkout"): Role.owner,
    ("POST", "/v1/billing/manage"): Role.owner,
    # the provider's signature is the credential (core/billing)
    ("POST", "/v1/billing/{provider}/webhook"): PUBLIC,
    ("POST", "/v1/company/reactivate"): Role.owner,
    ("POST", "/v1/privacy/erasures"): Role.owner,
    ("GET", "/v1/privacy/erasures/{erasure_id}"): Role.owner,
    ("POST", "/v1/employees/{employee_id}/erasure"): Role.owner,
    ("GET", "/v1/privacy/export"): Role.admin,
    ("POST", "/v1/privacy/exports"): Role.owner,
    ("GET", "/v1/privacy/exports/{export_id}"): Role.owner,
    ("GET", "/v1/privacy/exports/{export_id}/download"): Role.owner,
    ("POST", "/v1/leads"): Role.manager,
    ("PUT", "/v1/leads/by-number/{number}"): Role.manager,
    ("GET", "/v1/lead-fields"): Role.viewer,
    ("POST", "/v1/lead-fields"): Role.admin,
    ("DELETE", "/v1/lead-fields/{key}"): Role.admin,
    ("POST", "/v1/leads/import"): Role.manager,
    ("POST", "/v1/numbers"): Role.manager,
    ("GET", "/v1/leads"): Role.viewer,
    ("GET", "/v1/leads/{lead_id}"): Role.viewer,
    ("PATCH", "/v1/leads/{lead_id}"): Role.manager,
    ("DELETE", "/v1/leads/{lead_id}"): Role.manager,
    ("GET", "/v1/reports/leads"): Role.viewer,
    ("GET", "/v1/triggers/calls"): Role.viewer,
    ("GET", "/v1/triggers/leads"): Role.viewer,
    ("GET", "/v1/triggers/lead-assignments"): Role.viewer,
    ("POST", "/v1/hooks"): Role.admin,
    ("GET", "/v1/hooks"): Role.admin,
    ("GET", "/v1/hooks/{hook_id}"): Role.admin,
    ("DELETE", "/v1/hooks/{hook_id}"): Role.admin,
    ("GET", "/v1/hooks/{hook_id}/deliveries"): Role.admin,
    ("POST", "/v1/hooks/{hook_id}/deliveries/{event_id}/redeliver"): Role.admin,
}


# what only a caller without a team limit may do (API.md "Teams"): an API key or a webhook
# reaches every team's calls, and the company's settings are every team's; a team-limited user
# answers 403 `team_limited` here
COMPANY_WIDE = frozenset(
    {
        ("POST", "/v1/api-keys"),
        ("GET", "/v1/api-keys"),
        ("DELETE", "/v1/api-keys/{key_id}"),
        ("PATCH", "/v1/company"),
        ("GET", "/v1/audit"),
        *((method, path) for method, path in POLICY if path.startswith("/v1/hooks")),
        # a feed read from a position: a call or lead moving into a team would be missed
        *((method, path) for method, path in POLICY if path.startswith("/v1/changes/")),
    }
)


# what a deactivated company may still do (API.md "Subscription"); everything else answers 402
WHILE_DEACTIVATED = frozenset(
    {
        ("GET", "/v1/me"),
        ("GET", "/v1/notifications"),
        ("POST", "/v1/notifications/{notification_id}/read"),
        ("POST", "/v1/company/reactivate"),
        ("GET", "/v1/company/subscription"),
        ("POST", "/v1/billing/checkout"),
        ("POST", "/v1/billing/manage"),
        ("POST", "/v1/privacy/exports"),
        ("GET", "/v1/privacy/exports/{export_id}"),
        ("GET", "/v1/privacy/exports/{export_id}/download"),
    }
)


# what a signed-in user may do before accepting the policy versions in force (API.md "Sign-in"):
# everything else answers 403 `policy_acceptance_required`; API keys are never held back
BEFORE_ACCEPTANCE = frozenset(
    {
        ("GET", "/v1/me"),
        ("POST", "/v1/auth/logout"),
        ("DELETE", "/v1/auth/session"),
        ("POST", "/v1/me/policies/{kind}/accept"),
    }
)


class UndeclaredRoute(RuntimeError):
    """A route the policy does not name, or a protected one that does not authenticate."""


def required_role(method: str, path: str) -> Role | None:
    return POLICY[(method, path)]


def _calls(dependant: Dependant, name: str) -> bool:
    return any(
        getattr(dep.call, "__name__", "") == name or _calls(dep, name)
        for dep in dependant.dependencies
    )


def check_policy(app: FastAPI) -> None:
    # iter_route_contexts also walks included routers (FastAPI keeps them as one entry each)
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue  # the OpenAPI document and the documentation assets
        path = context.path or route.path
        for method in context.methods or ():
            if (method, path) not in POLICY:
                raise UndeclaredRoute(f"{method} {path} has no role in api/policy.py")
            if POLICY[(method, path)] is not PUBLIC and not _calls(
                route.dependant, "current_tenant"
            ):
                raise UndeclaredRoute(f"{method} {path} needs a role but takes no tenant")
