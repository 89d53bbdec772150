"""Which client a request comes from, and the key its limits are counted under.

No Rasa, no Sanic: the REST channel, the chat and trainer routes and socket.io
(bot/rasa_addons/channels/) pass in the TCP peer and the X-Forwarded-For header.

- `client_ip(peer, forwarded_for, trusted)`: the peer, unless the peer is one
  of the trusted proxies (settings.trusted_proxies, BOT_TRUSTED_PROXIES). Only
  then is X-Forwarded-For read, from the right: the proxy appended the address
  it saw last, and an entry further left was written by whoever connected to
  it. Entries that are trusted proxies themselves are skipped (a chain of
  proxies); the first other one is the client. A header from any other peer is
  never read: a client cannot choose its own key.
- `limit_key(address)`: the address a limit counts. An IPv6 host usually owns
  a whole /64 (one router advertisement hands out 2^64 addresses), so its
  addresses count as one key; an IPv4-mapped IPv6 address is its IPv4 address.

See docs/security-and-privacy.md, "Bounded input".
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPV6_PREFIX = 64  # one key per /64: what a single IPv6 host can pick its addresses from
UNKNOWN = "unknown"


def parse_ip(text: str | None) -> IPAddress | None:
    """An address as a peer or a header gives it ("::1", "[::1]", "fe80::1%eth0",
    "::ffff:192.0.2.1" -> 192.0.2.1), or None if it is none."""
    if not text:
        return None
    text = text.strip().removeprefix("[").split("]")[0].split("%")[0]
    if text.count(":") == 1:  # "203.0.113.9:51234": an IPv4 address with its port
        text = text.split(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def parse_networks(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    """Addresses or CIDR networks ("127.0.0.1", "10.0.0.0/8", "::1"); ValueError
    names the first that is neither."""
    found: list[IPNetwork] = []
    for value in values:
        try:
            found.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address or network") from None
    return tuple(found)


@lru_cache(maxsize=8)
def _networks(trusted: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return parse_networks(trusted)


def _trusted(address: IPAddress, networks: tuple[IPNetwork, ...]) -> bool:
    return any(address.version == n.version and address in n for n in networks)


def client_ip(peer: str | None, forwarded_for: str | None, trusted: tuple[str, ...]) -> str:
    """The client's address: see the module's docstring. "unknown" if the peer
    has none (a Unix socket)."""
    address = parse_ip(peer)
    if address is None:
        return peer or UNKNOWN
    networks = _networks(trusted)
    if not networks or not forwarded_for or not _trusted(address, networks):
        return str(address)
    for entry in reversed(forwarded_for.split(",")):
        hop = parse_ip(entry)
        if hop is None:  # not written by a proxy we trust: stop at the last good hop
            break
        address = hop
        if not _trusted(hop, networks):
            break
    return str(address)


def limit_key(address: str) -> str:
    """The key an address's limits count under: an IPv4 address, or an IPv6 /64."""
    parsed = parse_ip(address)
    if parsed is None:
        return address or UNKNOWN
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((parsed, IPV6_PREFIX), strict=False))
    return str(parsed)
