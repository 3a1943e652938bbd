"""The client's address behind a reverse proxy, believed only from proxies the configuration names.

The login throttle counts per client address (dialer.domain.auth.throttle). Behind a reverse proxy
every request comes from the proxy, so every user would share one address; the proxy says whom
it serves in ``X-Forwarded-For``. That header is just text a client can send too, so it is read
only when the connection comes from a trusted proxy (``[web] trusted_proxies``: addresses or
networks, none by default), and then only as far as trusted proxies wrote it: walking the list
from the right (each proxy appends the address it saw), the first hop that is not a trusted proxy
is the client. Whatever the client itself put further left is never reached.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """``[web] trusted_proxies`` as networks (a bare address is a network of one); ValueError names a bad one."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or network (like 10.0.0.1 or 10.0.0.0/24)") from None
    return tuple(networks)


def _trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def client_address(peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[Network]) -> str | None:
    """The client's address: ``peer`` (the connection's) unless it is a trusted proxy, then the first
    hop of ``X-Forwarded-For`` (every such header of the request, in order) that is not, from the right.

    A hop that is not an address (``unknown``, garbage) stops the walk at the proxy before it: that
    proxy is the last one we can vouch for."""
    if peer is None or not _trusted(peer, trusted):
        return peer
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",")]
    current = peer
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return current
        current = hop
        if not _trusted(hop, trusted):
            return hop
    return current


def proxy_middleware(trusted: Sequence[Network]) -> Middleware:
    """The first middleware: every later step (the access gate, the login throttle, the logs) sees the
    client's address as ``request.remote``."""

    @web.middleware
    async def client_from_proxy(request: web.Request, handler: Handler) -> web.StreamResponse:
        remote = client_address(request.remote, request.headers.getall(hdrs.X_FORWARDED_FOR, []), trusted)
        return await handler(request if remote is None or remote == request.remote else request.clone(remote=remote))

    return client_from_proxy
