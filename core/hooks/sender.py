"""Sending one signed delivery with httpx: the target checked again and connected to at the
address checked (TLS still verifies the host name), 15 s timeout, redirects not followed."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict

import httpx

from core.clock import utc_now
from core.hooks.delivery import Outcome, parse_retry_after
from core.hooks.signing import signed_headers
from core.hooks.targets import RefusedTarget, Resolver, Target, check_target, resolve

USER_AGENT = "closecall-webhooks/1"


MAX_CLIENTS = 256  # pools open at once; beyond, the least recently used closes


class Sender:
    """An httpx client per hook and checked address, of the hook's concurrency: httpcore scans
    its whole pool for every request, so one pool for every receiver made the pool the bound
    (py-spy: 40% of the loop in `has_expired`). Hooks on one host (Zapier's, every Zap's) each
    have their own pool, so one Zap's backlog does not queue another's."""

    def __init__(
        self,
        timeout_s: float,
        allow_private: bool,
        resolver: Resolver = resolve,
        connections_per_target: int = 32,
    ) -> None:
        self.allow_private = allow_private
        self.resolver = resolver
        self.timeout_s = timeout_s
        self.connections_per_target = connections_per_target
        self.clients: OrderedDict[tuple[str, str, str, int], httpx.AsyncClient] = OrderedDict()

    def client_for(self, pool: str, target: Target) -> httpx.AsyncClient:
        key = (pool, target.scheme, target.address, target.port)
        client = self.clients.get(key)
        if client is None:
            client = self.clients[key] = httpx.AsyncClient(
                timeout=self.timeout_s,
                follow_redirects=False,
                trust_env=False,  # no proxy from the environment: we chose the address
                limits=httpx.Limits(max_connections=self.connections_per_target),
            )
            if len(self.clients) > MAX_CLIENTS:
                _key, oldest = self.clients.popitem(last=False)
                asyncio.get_running_loop().create_task(oldest.aclose())
        else:
            self.clients.move_to_end(key)
        return client

    async def send(
        self, url: str, msg_id: str, secret: str, body: bytes, pool: str = ""
    ) -> Outcome:
        """One attempt, signed at the moment it is sent (receivers refuse old timestamps)."""
        started = time.perf_counter()

        def elapsed_ms() -> int:
            return int((time.perf_counter() - started) * 1000)

        try:
            if self.allow_private:  # nothing to resolve
                target = check_target(url, True)
            else:
                target = await asyncio.to_thread(
                    check_target, url, self.allow_private, self.resolver
                )
        except RefusedTarget as exc:
            return Outcome(status_code=None, duration_ms=elapsed_ms(), error=f"refused: {exc}")
        headers = signed_headers(secret, msg_id, int(time.time()), body)
        headers["user-agent"] = USER_AGENT
        extensions = {}
        if target.address != target.host:  # connecting to the checked address, not the name
            default_port = 443 if target.scheme == "https" else 80
            port = "" if target.port == default_port else f":{target.port}"
            headers["host"] = target.host + port
            if target.scheme == "https":
                extensions["sni_hostname"] = target.host  # TLS verifies the name, not the address
        try:
            response = await self.client_for(pool, target).post(
                target.pinned_url(), content=body, headers=headers, extensions=extensions
            )
        except httpx.TimeoutException:
            return Outcome(None, elapsed_ms(), f"timed out after {self.timeout_s:g} s")
        except httpx.HTTPError as exc:
            return Outcome(None, elapsed_ms(), f"{type(exc).__name__}: {exc}"[:200])
        retry_after = None
        if response.status_code in (429, 503):
            retry_after = parse_retry_after(response.headers.get("retry-after"), utc_now())
        error = None if response.is_success else f"HTTP {response.status_code}"
        return Outcome(response.status_code, elapsed_ms(), error, retry_after)

    async def close(self) -> None:
        for client in self.clients.values():
            await client.aclose()
        self.clients.clear()
