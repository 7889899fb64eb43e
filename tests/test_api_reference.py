"""The API reference a clone carries (docs/openapi/, docs/API.md) is current, and the services'
documentation pages load everything from the service itself (they work offline)."""

from __future__ import annotations

import re

import pytest

from api.downloads import CSV, XLSX
from deploy.api_reference import OPENAPI_DIR, openapi_documents
from schemas.json_documents import render
from tests.support.stack import ROOT, Stack


def test_committed_openapi_documents_are_current() -> None:
    for name, document in openapi_documents().items():
        committed = (OPENAPI_DIR / f"{name}.openapi.json").read_text()
        assert committed == render(document), "run `closecall openapi` and commit docs/openapi"


# the documented answers that are not JSON, and the media type each declares for its 200 (the
# console's page and assets are left out of the documents)
NOT_JSON = {
    "/metrics": "text/plain",
    "/v1/digest/unsubscribe": "text/html",  # pages a person opens from a digest
    "/v1/privacy/exports/{export_id}/download": "application/zip",
    "/v1/employees/{employee_id}/enrollment-codes/{code_id}/qr.png": "image/png",
}

# the tables a manager downloads (`format=csv|xlsx`, api/downloads.py)
DOWNLOADS = {
    "/v1/reports/summary",
    "/v1/reports/employees",
    "/v1/reports/analytics",
    "/v1/reports/never-attended",
    "/v1/reports/not-picked-up",
    "/v1/reports/customers",
    "/v1/reports/working-hours",
    "/v1/reports/leads",
    "/v1/calls",
    "/v1/leads",
    "/v1/devices",
    "/v1/employees",
    "/v1/users",
    "/v1/audit",
}


def test_every_success_declares_its_real_media_type() -> None:
    """No route that answers text or a zip declares JSON (schemathesis's content-type check
    holds the answers to what is declared); every other success with a body declares JSON
    (a 204 declares none)."""
    for document in openapi_documents().values():
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                success = [r for status, r in operation["responses"].items() if status < "300"]
                media = {m for r in success for m in r.get("content", {})}
                if path in NOT_JSON:
                    assert media == {NOT_JSON[path]}, (method, path, media)
                elif path in DOWNLOADS and method == "get":
                    assert media == {"application/json", CSV, XLSX}, (method, path, media)
                    names = {p["name"] for p in operation["parameters"]}
                    assert "format" in names, (method, path)
                elif media:
                    assert media == {"application/json"}, (method, path, media)


def test_the_reference_page_names_every_route() -> None:
    page = (ROOT / "docs" / "API.md").read_text()
    for document in openapi_documents().values():
        for path, operations in document["paths"].items():
            for method in operations:
                assert f"{method.upper()} {path}" in page, f"docs/API.md lacks {method} {path}"


@pytest.mark.parametrize("service", ["ingest", "api"])
@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_only_their_own_assets(
    module_stack: Stack, service: str, page: str
) -> None:
    client = getattr(module_stack, service)
    html = client.get(page)
    assert html.status_code == 200 and "<html" in html.text.lower()
    assets = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html.text)
    # the OpenAPI document: Swagger UI's `url: '...'`, ReDoc's `spec-url="..."`
    urls = re.findall(r"""(?:url:\s*|spec-url=)["']([^"']+)["']""", html.text)
    assert assets and urls
    assert not re.search(r"https?://", html.text), "the page refers to another host"
    for asset in assets + urls:
        assert asset.startswith("/"), asset
        fetched = client.get(asset)
        assert fetched.status_code == 200 and fetched.content, asset
