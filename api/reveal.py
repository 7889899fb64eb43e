"""Numbers in E.164 instead of masked: `reveal=true`, for `admin` and `owner` only, each read
one `numbers.revealed` audit entry (how many and which filter, never the numbers)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from api.context import ApiContext
from api.flags import Flag
from api.policy import Role
from api.tenancy import Tenant, company_keys
from core.errors import Forbidden
from core.number_crypto import CompanyKeys

RevealQuery = Annotated[
    Flag, Query(description="numbers in E.164 instead of masked (admin, owner; audited)")
]


def reveal_keys(tenant: Tenant, context: ApiContext, reveal: bool) -> CompanyKeys | None:
    """The company's keys when the caller asked to reveal and may; 403 when it may not."""
    if not reveal:
        return None
    if tenant.role < Role.admin:
        raise Forbidden("forbidden", "revealing numbers needs the admin role")
    return company_keys(tenant.company, context.master_key)
