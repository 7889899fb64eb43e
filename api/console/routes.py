"""The manager console: a build-free page over this same API, served from this origin. The page
and its scripts hold no data (public); everything they show comes from the JSON routes through
the session cookie (api/auth/console_session.py), under the same roles, team limits and report
functions as any integration."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

from core.errors import ApiError

STATIC = Path(__file__).with_name("static")
MEDIA_TYPES = {".js": "text/javascript", ".css": "text/css", ".md": "text/markdown"}
ASSETS = {
    path.relative_to(STATIC).as_posix(): path
    for path in STATIC.rglob("*")
    if path.is_file() and path.suffix in MEDIA_TYPES
}
# Only this origin's scripts, styles and API; no inline script, no framing, forms post here only.
CONTENT_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
REVALIDATE = {"Cache-Control": "no-cache"}  # kept by the browser, checked on each load

router = APIRouter(tags=["console"], include_in_schema=False)


@router.get("/console", response_class=RedirectResponse)
def console_root() -> RedirectResponse:
    return RedirectResponse("/console/", status_code=308)


@router.get("/console/", response_class=HTMLResponse)
@router.get("/console/accept-invite", response_class=HTMLResponse)
@router.get("/console/reset-password", response_class=HTMLResponse)
def console_page() -> HTMLResponse:
    """The one page; an emailed link's path (accept-invite, reset-password) picks its form,
    its fragment (#token=...) holds the token."""
    return HTMLResponse(
        (STATIC / "index.html").read_text(),
        headers={"Content-Security-Policy": CONTENT_POLICY, **REVALIDATE},
    )


@router.get("/console/assets/{name:path}", response_class=FileResponse)
def console_asset(name: str) -> FileResponse:
    """The console's scripts and stylesheet, and the pinned chart library (no CDN: offline)."""
    path = ASSETS.get(name)
    if path is None:
        raise ApiError(404, "not_found", f"the console has no asset {name!r}")
    return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], headers=REVALIDATE)
