"""Where a REST hook may send (API.md "Target URLs"): https to a public address, checked after
DNS resolution when subscribing and again before each delivery, which then connects to the
address it checked (a name that resolves elsewhere a moment later is never asked again)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

Resolver = Callable[[str, int], list[str]]


class RefusedTarget(ValueError):
    """A target URL a hook may not use; the message says why (never echoing the URL)."""


def resolve(host: str, port: int) -> list[str]:
    """Every address of `host` (IPv4 and IPv6), as the system resolver answers."""
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise RefusedTarget(f"the host name does not resolve ({exc.strerror})") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


# IPv6 prefixes whose last 32 bits are an IPv4 address a gateway or host translates to: NAT64's
# well-known prefix (RFC 6052), IPv4-compatible (RFC 4291, deprecated) and IPv4-translated
# (SIIT, RFC 2765) addresses
EMBEDDING_LAST_32 = tuple(
    ipaddress.IPv6Network(prefix) for prefix in ("64:ff9b::/96", "::/96", "::ffff:0:0:0/96")
)
LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215; RFC 6052 /48 layout


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo's server, NAT64, SIIT or
    IPv4-compatible), if any."""
    inner = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[0] if ip.teredo else None)
    if inner is not None:
        return inner
    if any(ip in network for network in EMBEDDING_LAST_32):
        return ipaddress.IPv4Address(ip.packed[-4:])
    if ip in LOCAL_NAT64:  # a /48 prefix: two octets, then `u` (bits 64-71), then two
        return ipaddress.IPv4Address(ip.packed[6:8] + ip.packed[9:11])
    return None


def is_public(address: str) -> bool:
    """Globally routable: not loopback, private, link-local (the metadata address
    169.254.169.254 among them), shared, multicast, reserved or unspecified; an IPv6 address
    that embeds an IPv4 address (`embedded_ipv4`) is judged by that address, and a Teredo one by
    its client's too."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        inner = embedded_ipv4(ip)
        if inner is not None:
            client = ip.teredo[1] if ip.teredo else inner
            return is_public(str(inner)) and is_public(str(client))
    return ip.is_global and not ip.is_multicast


@dataclass(frozen=True, slots=True)
class Target:
    """A checked target: the URL, its host, and the address to connect to."""

    url: str
    scheme: str
    host: str
    port: int
    address: str

    def pinned_url(self) -> str:
        """The URL with the checked address in place of the host name."""
        if self.address == self.host:
            return self.url
        parts = urlsplit(self.url)
        host = f"[{self.address}]" if ":" in self.address else self.address
        netloc = host if parts.port is None else f"{host}:{parts.port}"
        return parts._replace(netloc=netloc).geturl()


def check_target(url: str, allow_private: bool, resolver: Resolver = resolve) -> Target:
    """The target to connect to, or `RefusedTarget` naming the rule it breaks."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise RefusedTarget("not a URL") from exc
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise RefusedTarget("not an http(s) URL")
    if parts.scheme != "https" and not allow_private:
        raise RefusedTarget("only https targets are allowed")
    if parts.username or parts.password:
        raise RefusedTarget("credentials in the URL are not allowed")
    port = port or (443 if parts.scheme == "https" else 80)
    host = parts.hostname
    if allow_private:  # nothing to check: connect by name
        return Target(url=url, scheme=parts.scheme, host=host, port=port, address=host)
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        addresses = resolver(host, port)
    if not addresses:
        raise RefusedTarget("the host name does not resolve")
    for address in addresses:
        if not is_public(address):
            raise RefusedTarget(
                "the target resolves to a loopback, private, link-local or metadata address"
            )
    return Target(url=url, scheme=parts.scheme, host=host, port=port, address=addresses[0])
