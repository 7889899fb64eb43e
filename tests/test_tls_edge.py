"""TLS at the edge (deploy/Caddyfile, docs/OPERATIONS.md "TLS"): Debian's Caddy in front of a
stack that trusts its forwarded headers; a browser signs in over HTTPS with `Secure` cookies,
and the services see the client's own address, never one a client made up."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.conftest import shared_stack
from tests.support.browser import chromium, sign_in, wait_for
from tests.support.services import Broker, Caddy
from tests.support.stack import OWNER_PASSWORD, Stack

CLIENT = "127.0.0.9"  # a client's own address on loopback, other than the proxy's 127.0.0.1


@pytest.fixture(scope="module")
def edge(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, Caddy]]:
    trusting = {"CLOSECALL_TRUSTED_PROXIES": "127.0.0.1"}
    for stack in shared_stack(broker, tmp_path_factory, trusting):  # one, stopped after
        caddy = Caddy(tmp_path_factory.mktemp("caddy"), stack.api_port, stack.ingest_port)
        yield stack, caddy.start()
        caddy.stop()


def over_tls(caddy: Caddy, host: str, client_address: str = CLIENT) -> httpx.Client:
    """A client that verifies the edge's certificate and connects from `client_address`."""
    return httpx.Client(
        base_url=f"https://{host}:{caddy.https_port}",
        verify=str(caddy.root_certificate),
        transport=httpx.HTTPTransport(
            verify=str(caddy.root_certificate), local_address=client_address
        ),
        timeout=30,
    )


def test_both_services_answer_over_tls_with_hsts_and_plain_http_redirects(
    edge: tuple[Stack, Caddy],
) -> None:
    _stack, caddy = edge
    with over_tls(caddy, "localhost") as api, over_tls(caddy, "127.0.0.1") as ingest:
        for client, title in ((api, "closecall report API"), (ingest, "closecall ingest API")):
            answer = client.get("/openapi.json")
            assert answer.status_code == 200 and answer.json()["info"]["title"] == title
            assert answer.headers["strict-transport-security"].startswith("max-age=31536000")
    plain = httpx.get(f"http://localhost:{caddy.http_port}/v1/me", follow_redirects=False)
    assert plain.status_code == 308
    # to https on the same name (Caddy 2.6 names no port: production's is 443)
    assert plain.headers["location"].startswith("https://localhost")
    assert plain.headers["location"].endswith("/v1/me")


def failed_sign_in_addresses(stack: Stack, api_key: str) -> list[str]:
    audit = stack.api.get("/v1/audit", headers={"Authorization": f"Bearer {api_key}"})
    assert audit.status_code == 200, audit.text
    return [item["ip"] for item in audit.json()["items"] if item["action"] == "login.failed"]


def test_the_services_see_the_clients_address_only_as_the_proxy_tells_it(
    edge: tuple[Stack, Caddy],
) -> None:
    stack, caddy = edge
    owner = stack.signup("Addresses")
    wrong = {"email": "owner@addresses.example", "password": "not the password at all"}
    made_up = {"X-Forwarded-For": "203.0.113.7"}
    with over_tls(caddy, "localhost") as through_proxy:
        # Caddy replaces a client's own X-Forwarded-For with the address it connected from
        assert through_proxy.post("/v1/auth/login", json=wrong, headers=made_up).status_code == 401
    direct = httpx.Client(
        base_url=f"http://127.0.0.1:{stack.api_port}",
        transport=httpx.HTTPTransport(local_address=CLIENT),
    )
    with direct:  # not from the proxy: its X-Forwarded-For is not believed
        assert direct.post("/v1/auth/login", json=wrong, headers=made_up).status_code == 401
    assert failed_sign_in_addresses(stack, owner["api_key"]) == [CLIENT, CLIENT]


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    # Caddy's internal CA is not in Chromium's store here: the test trusts it by other means
    # (httpx above verifies against its root); the page is https all the same
    with chromium("--ignore-certificate-errors") as driver:
        yield driver


def test_a_browser_signs_in_over_https_with_secure_cookies(
    edge: tuple[Stack, Caddy], browser: WebDriver
) -> None:
    stack, caddy = edge
    stack.signup("Browser")
    base = f"https://localhost:{caddy.https_port}"
    sign_in(browser, base, "owner@browser.example", OWNER_PASSWORD)
    wait_for(browser, "#nav a")
    assert "owner" in browser.find_element(By.ID, "who").text
    session = browser.get_cookie("cc_session")
    assert session is not None and session["secure"] is True and session["httpOnly"] is True
    # the cookie goes back over https: the console's own request is answered as the owner
    me = browser.execute_async_script(
        """const done = arguments[0];
        fetch('/v1/me').then(async (r) => done({status: r.status, body: await r.json()}));"""
    )
    assert me["status"] == 200 and me["body"]["user"]["email"] == "owner@browser.example"
