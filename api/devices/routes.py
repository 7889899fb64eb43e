"""Device routes: HTTP in, api/devices/service.py, HTTP out."""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Response
from fastapi.concurrency import run_in_threadpool

from api.deps import Context, CurrentTenant, Db
from api.devices import service
from api.devices.service import DeviceList, SyncSent
from api.downloads import DOWNLOADABLE, Downloads
from api.flags import Flag
from core.clock import utc_now
from core.errors import error_responses

router = APIRouter(prefix="/v1/devices", tags=["devices"], responses=error_responses(401, 404, 422))


@router.get("", response_model=DeviceList, responses=DOWNLOADABLE)
async def list_devices(
    tenant: CurrentTenant,
    db: Db,
    download: Downloads,
    revoked: Annotated[Flag, Query(description="include revoked devices")] = False,
) -> Any:
    company = tenant.company
    items = await run_in_threadpool(
        service.list_devices,
        db,
        tenant.clickhouse,
        company.id,
        company.stale_after_s,
        revoked,
        utc_now(),
        tenant.employee_ids,
    )
    answer = DeviceList.model_validate({"items": items, "stale_after_s": company.stale_after_s})
    return download(answer, DeviceList, "devices", ZoneInfo(company.timezone))


@router.delete("/{device_id}", status_code=204, response_class=Response)
def revoke_device(device_id: str, tenant: CurrentTenant, db: Db) -> Response:
    """A lost or replaced phone: its token stops working; it can enrol again with a new code."""
    service.revoke_device(db, tenant.company.id, device_id, utc_now(), tenant.employee_ids)
    return Response(status_code=204)


@router.post(
    "/{device_id}/sync",
    status_code=202,
    response_model=SyncSent,
    responses=error_responses(409, 502, 503),
)
async def request_sync(device_id: str, tenant: CurrentTenant, db: Db, context: Context) -> SyncSent:
    """Ask the phone to upload now (an FCM data message to its latest token)."""
    token = service.live_push_token(
        db, tenant.company.id, device_id, context.pusher, tenant.employee_ids
    )
    await run_in_threadpool(
        service.sync_device, context.engine, context.pusher, device_id, token, utc_now()
    )
    return SyncSent(status="sent")
