"""Alert-rule inputs checked at the boundary, and webhook delivery to the address that was checked.

A webhook URL must parse (scheme, host, a port in range, a well-formed IPv6 literal) and, unless private
receivers are allowed, every address its host resolves to must be public. IPv6 forms that carry an IPv4 address
(IPv4-mapped ``::ffff:a.b.c.d``, IPv4-compatible ``::a.b.c.d``, 6to4 ``2002::/16``, NAT64 ``64:ff9b::/96`` and
``64:ff9b:1::/48``, Teredo) are judged by the IPv4 address they embed. Delivery resolves the host once, checks the
addresses and connects to the checked one (the Host header and TLS SNI keep the name), so a DNS answer that changes
between the check and the connection (DNS rebinding) cannot redirect the request.
"""

from __future__ import annotations

import ipaddress
import math
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

from ..errors import InvalidRequest

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_PRIVATE_HINT = "Set MLOpsConfig.allow_private_webhooks = True to allow internal receivers."


def finite_threshold(value: Any) -> float:
    """An alert threshold: a finite number (NaN, Infinity and 1e999 are refused with a 400)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidRequest("Alert rule threshold must be a number.")
    try:
        number = float(value)
    except OverflowError:  # an int beyond float range
        number = math.inf
    if not math.isfinite(number):
        raise InvalidRequest("Alert rule threshold must be a finite number (not NaN or Infinity); for example 0.05.")
    return number


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, 6to4, NAT64, Teredo), else None."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if any(address in network for network in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if int(address) >> 32 == 0 and int(address) > 1:  # IPv4-compatible ::a.b.c.d (not :: or ::1)
        return ipaddress.IPv4Address(int(address))
    return None


def is_public(address: IPAddress) -> bool:
    """Whether ``address`` (and any IPv4 address it embeds) is a global unicast address."""
    if not address.is_global or address.is_multicast:
        return False
    inner = embedded_ipv4(address)
    return inner is None or (inner.is_global and not inner.is_multicast)


@dataclass(frozen=True)
class WebhookTarget:
    """A parsed webhook URL: its parts, host and effective port."""

    url: str
    parts: SplitResult
    host: str
    port: int


def parse_url(url: Any) -> WebhookTarget:
    """The webhook URL parsed, or a 400 saying what is wrong with it (scheme, host, port, IPv6 literal)."""
    if not isinstance(url, str) or not url or len(url) > 2048:
        raise InvalidRequest("A webhook must be an http(s) URL (at most 2048 characters).")
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise InvalidRequest(
            f"The webhook URL does not parse ({exc}): use http(s)://host[:port]/path, with IPv6 literals in brackets "
            "and a port from 1 to 65535."
        ) from None
    if parts.scheme not in ("http", "https") or not host:
        raise InvalidRequest("A webhook must be an http(s) URL with a host.")
    if port == 0:
        raise InvalidRequest("The webhook URL's port must be from 1 to 65535.")
    if "[" in parts.netloc:
        try:
            ipaddress.IPv6Address(host.split("%")[0])
        except ValueError:
            raise InvalidRequest(f"The webhook URL's IPv6 literal {host[:60]!r} is not an IPv6 address.") from None
    return WebhookTarget(url, parts, host, port or (443 if parts.scheme == "https" else 80))


def resolve(target: WebhookTarget, *, allow_private: bool) -> list[IPAddress]:
    """The addresses of the webhook's host, each checked to be public unless ``allow_private``; a 400 otherwise."""
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError):
        raise InvalidRequest(f"The webhook host {target.host[:100]!r} does not resolve.") from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                raise InvalidRequest(
                    f"Refusing webhook to {target.host[:100]!r}: it resolves to a private, loopback, link-local or "
                    f"otherwise reserved address. {_PRIVATE_HINT}"
                )
    return addresses


def check_url(url: Any, *, allow_private: bool) -> str:
    """Refuse webhook URLs that do not parse or, unless ``allow_private``, whose host is not public."""
    target = parse_url(url)
    if not allow_private:
        resolve(target, allow_private=False)
    return target.url


def post(url: str, payload: Any, *, allow_private: bool, timeout: float = 5.0) -> int:
    """POST ``payload`` as JSON to the webhook, connected to an address checked in this call; the HTTP status.

    The request goes to the checked IP with the original Host header and, for https, the original name as TLS
    SNI and certificate name. Raises ``InvalidRequest`` when the URL or its addresses are refused.
    """
    import httpx

    target = parse_url(url)
    address = resolve(target, allow_private=allow_private)[0]
    shown = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{shown}:{target.port}"
    pinned = urlunsplit((target.parts.scheme, netloc, target.parts.path or "/", target.parts.query, ""))
    default_port = 443 if target.parts.scheme == "https" else 80
    host_header = target.parts.netloc.rpartition("@")[2]  # the URL's host[:port], without credentials
    if target.parts.port in (None, default_port):
        host_header = host_header.rsplit(":", 1)[0] if not host_header.endswith("]") else host_header
    extensions = {"sni_hostname": target.host} if target.parts.scheme == "https" else {}
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        response = client.post(pinned, json=payload, headers={"Host": host_header}, extensions=extensions)
    return response.status_code
