"""The client's IP address: the TCP peer, or X-Forwarded-For when the peer is a trusted proxy.

``X-Forwarded-For`` is believed only when the connection comes from one of
``settings.trusted_proxies`` (addresses or CIDRs).  The header is then read
from the right: trusted hops are skipped and the first untrusted address is
the client.  An invalid entry stops the walk (everything left of it may be
forged), and the last address known to be good is used.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_FORWARDED_HOPS = 32
_PEER_CACHE_MAX = 4096
_HOP_CACHE_MAX = 16_384  # forwarded entries remembered, each at most _HOP_CACHED_CHARS long
_HOP_CACHED_CHARS = 64  # an IPv6 address with brackets, port and zone fits; longer: not kept
_INVALID = ("", False)


class InvalidTrustedProxy(ValueError):
    """A ``trusted_proxies`` entry is neither an IP address nor a CIDR."""


def parse_networks(entries: Iterable[str]) -> tuple[IpNetwork, ...]:
    """Networks from addresses or CIDRs; an invalid entry raises ``InvalidTrustedProxy``."""
    networks: list[IpNetwork] = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError as exc:
            raise InvalidTrustedProxy(f"trusted_proxies: {entry!r} is not an IP or CIDR") from exc
    return tuple(networks)


def parse_ip(text: str) -> IpAddress | None:
    """An address from ``1.2.3.4``, ``1.2.3.4:80``, ``2001:db8::1`` or ``[2001:db8::1]:80``."""
    text = text.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    text = text.partition("%")[0]  # an IPv6 zone id is local to the sender
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


class ClientIpResolver:
    """Resolves the client address of a request from its peer and forwarded header."""

    def __init__(self, trusted_proxies: Iterable[str]) -> None:
        self._networks = parse_networks(trusted_proxies)
        self._peer_trusted: dict[str, bool] = {}
        # forwarded entry as sent → (address as text, trusted), or _INVALID
        self._hops: dict[str, tuple[str, bool]] = {}

    def _is_trusted(self, address: IpAddress) -> bool:
        return any(address in network for network in self._networks)

    def _peer_is_trusted(self, peer: str) -> bool:
        known = self._peer_trusted.get(peer)
        if known is None:
            address = parse_ip(peer)
            known = address is not None and self._is_trusted(address)
            if len(self._peer_trusted) >= _PEER_CACHE_MAX:
                self._peer_trusted.clear()
            self._peer_trusted[peer] = known
        return known

    def resolve(self, peer: str | None, forwarded_for: bytes | None) -> str | None:
        """The client address as text, or None when nothing is known."""
        if not self._networks or peer is None or not forwarded_for:
            return peer
        if not self._peer_is_trusted(peer):
            return peer
        client = peer
        hops = forwarded_for.decode("latin-1").split(",")[-MAX_FORWARDED_HOPS:]
        known = self._hops
        for hop in reversed(hops):
            found = known.get(hop)
            if found is None:
                found = self._learn_hop(hop)
            if found is _INVALID:
                break
            client, trusted = found
            if not trusted:
                break
        return client

    def _learn_hop(self, hop: str) -> tuple[str, bool]:
        """Parse one forwarded entry (the slow part of a resolve), remembered: a busy
        proxy forwards the same client addresses again and again."""
        address = parse_ip(hop)
        found = _INVALID if address is None else (str(address), self._is_trusted(address))
        if len(hop) > _HOP_CACHED_CHARS:
            return found  # garbage a client put in the header: not worth memory
        if len(self._hops) >= _HOP_CACHE_MAX:
            self._hops.clear()
        self._hops[hop] = found
        return found
