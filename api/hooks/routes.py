"""REST hook routes (API.md "Zapier, webhooks and polling triggers"): subscribe, list, show,
unsubscribe, the delivery log and redelivery. HTTP in, api/hooks/service.py, out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.audit.log import actor_of
from api.deps import Audit, Context, CurrentTenant, Db
from api.hooks import service
from api.hooks.service import DeliveryPage, Hook, HookCreated, HookList, HookRequest, Redelivery
from api.tenancy import company_keys
from core.clock import utc_now
from core.errors import ApiError, error_responses
from core.hooks.delivery import redeliver as schedule_redelivery
from core.paging import page_request

router = APIRouter(prefix="/v1/hooks", tags=["hooks"], responses=error_responses(401, 403, 422))


@router.post("", status_code=201, response_model=HookCreated)
def subscribe(
    body: HookRequest, tenant: CurrentTenant, context: Context, db: Db, audit: Audit
) -> HookCreated:
    """Subscribe `target_url` to `event`; the answer holds the signing secret, once."""
    service.checked_target(body.target_url, context.settings.private_hooks_allowed)
    keys = company_keys(tenant.company, context.master_key)
    created = service.create_hook(db, tenant.company.id, keys, body, actor_of(tenant))
    audit("hook.created", created.id, {"event": created.event, "numbers": created.numbers})
    if created.numbers == "e164":  # once for the hook, not per delivery (each carries numbers)
        audit("numbers.revealed", f"hook:{created.id}", {"event": created.event})
    return created


@router.get("", response_model=HookList)
def list_hooks(tenant: CurrentTenant, db: Db) -> HookList:
    return service.list_hooks(db, tenant.company.id)


@router.get("/{hook_id}", response_model=Hook, responses=error_responses(404))
def show_hook(hook_id: str, tenant: CurrentTenant, db: Db) -> Hook:
    return service.to_hook(service.hook_row(db, tenant.company.id, hook_id))


@router.delete(
    "/{hook_id}", status_code=204, response_class=Response, responses=error_responses(404)
)
def unsubscribe(hook_id: str, tenant: CurrentTenant, db: Db, audit: Audit) -> Response:
    """Unsubscribe: nothing more is sent, pending deliveries and the log go with it."""
    service.delete_hook(db, tenant.company.id, hook_id)
    audit("hook.deleted", hook_id)
    return Response(status_code=204)


@router.get("/{hook_id}/deliveries", response_model=DeliveryPage, responses=error_responses(404))
def delivery_log(
    hook_id: str,
    tenant: CurrentTenant,
    db: Db,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DeliveryPage:
    """Every attempt, newest first."""
    return service.deliveries(db, tenant.company.id, hook_id, page_request(limit, cursor))


@router.post(
    "/{hook_id}/deliveries/{event_id}/redeliver",
    status_code=202,
    response_model=Redelivery,
    responses=error_responses(404),
)
def redeliver(hook_id: str, event_id: str, tenant: CurrentTenant, db: Db) -> Redelivery:
    """Send this event to the hook again now (a disabled hook is enabled again)."""
    service.hook_row(db, tenant.company.id, hook_id)
    if not schedule_redelivery(db, hook_id, event_id, utc_now()):
        raise ApiError(404, "not_found", f"no delivery of {event_id} to hook {hook_id}")
    return Redelivery(status="scheduled")
