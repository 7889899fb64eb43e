"""FastAPI dependencies: the process context, a control-plane connection and the caller's tenant."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, Request, Security
from sqlalchemy.engine import Connection

from api.audit.log import AuditWriter, actor_of
from api.auth.console_session import check_csrf, session_token
from api.auth.service import ACCESS_TOKEN_PREFIX, signed_in
from api.context import ApiContext
from api.policy import BEFORE_ACCEPTANCE, COMPANY_WIDE, WHILE_DEACTIVATED, Role, required_role
from api.tenancy import Tenant
from core.accounts.subscription import company_status
from core.bearer import Credentials, bearer_scheme, bearer_token
from core.clock import utc_now
from core.controlplane import api_keys, load_company
from core.errors import ApiError
from core.notices import policies
from core.reports.scope import company_view, team_employees
from core.tokens import digest


def get_context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context


Context = Annotated[ApiContext, Depends(get_context)]


def get_connection(context: Context) -> Iterator[Connection]:
    with context.engine.begin() as conn:
        yield conn


# scope="function": the transaction commits before the response is sent, so a client that got
# its answer reads its own write on the next request.
Db = Annotated[Connection, Depends(get_connection, scope="function")]


API_KEY = bearer_scheme("APIKey", "an API key of the company (`cc_live_...`)")


def current_tenant(
    request: Request,
    credentials: Annotated[Credentials, Security(API_KEY)],
    context: Context,
    db: Db,
) -> Tenant:
    """The caller's company and role from an API key or an access token, refused (403) when the
    route needs a higher role."""
    cookie = session_token(request) if credentials is None else None
    if cookie is not None:  # the console: an access token only, and writes need the CSRF token
        check_csrf(request, cookie)
    token = cookie or bearer_token(credentials, "an API key or an access token")
    if token.startswith(ACCESS_TOKEN_PREFIX):
        user = signed_in(db, token, utc_now())
        company = load_company(db, user.company_id) if user else None
        if user is None or company is None:
            raise ApiError(401, "invalid_token", "the access token is unknown, expired or revoked")
        caller = {"user_id": user.user_id, "session": digest(token)}
        role = Role[user.role]
        scope = team_employees(db, company.id, user.teams)
        if (request.method, request.scope["route"].path) not in BEFORE_ACCEPTANCE:
            require_accepted(db, user.user_id)
    else:
        if cookie is not None:
            raise ApiError(401, "invalid_token", "the console's cookie holds no access token")
        row = db.execute(
            sa.select(api_keys.c.id, api_keys.c.company_id, api_keys.c.role).where(
                api_keys.c.secret_hash == digest(token), api_keys.c.revoked_at.is_(None)
            )
        ).first()
        company = load_company(db, row.company_id) if row else None
        if row is None or company is None:
            raise ApiError(401, "invalid_api_key", "the API key is unknown or revoked")
        caller = {"key_id": row.id}
        role = Role[row.role]
        scope = None
    route = (request.method, request.scope["route"].path)
    needed = required_role(*route)
    if needed is not None and role < needed:
        raise ApiError(
            403, "forbidden", f"this needs the {needed.name} role; the caller is {role.name}"
        )
    if scope is not None and route in COMPANY_WIDE:
        raise ApiError(
            403,
            "team_limited",
            "this reaches every team: only the owner or a user without a team limit can do it",
        )
    if route not in WHILE_DEACTIVATED and company_status(company, utc_now()) == "deactivated":
        raise ApiError(
            402,
            "subscription_inactive",
            "the subscription ended: reactivate it (POST /v1/company/reactivate) or download "
            "the company export",
        )
    return Tenant(
        company=company,
        role=role,
        clickhouse=company_view(db, context.clickhouse, company),
        employee_ids=scope,
        **caller,
    )


CurrentTenant = Annotated[Tenant, Depends(current_tenant)]


def require_accepted(db: Connection, user_id: str) -> None:
    """403 `policy_acceptance_required` while a policy version in force is not accepted by the
    user (API.md "Sign-in"); `fields` names each with its version."""
    waiting = policies.pending(db, user_id)
    if waiting:
        names = ", ".join(f"the {policies.TITLES[p.kind]} {p.version}" for p in waiting)
        raise ApiError(
            403,
            "policy_acceptance_required",
            f"accept {names} first (POST /v1/me/policies/{{kind}}/accept)",
            [(f"policies.{p.kind}", p.version) for p in waiting],
        )


def audit_writer(request: Request, tenant: CurrentTenant, db: Db) -> AuditWriter:
    return AuditWriter(db, tenant.company.id, actor_of(tenant), client_ip(request))


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


Audit = Annotated[AuditWriter, Depends(audit_writer)]
