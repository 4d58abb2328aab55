"""Targets that reach inside the network are refused, when saved and when sent.

DNS is faked: names resolve to whatever the test says, and no traffic leaves
127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import httpx
import pytest

from clickledger.outbound.ssrf import TargetGuard, TargetNotAllowed, guarded_transport

FAKE_DNS = {
    "tracker.example": ["93.184.216.34"],
    "loopback.example": ["127.0.0.1"],
    "intranet.example": ["10.1.2.3"],
    "metadata.example": ["169.254.169.254"],
    "v6-loopback.example": ["::1"],
    "mapped.example": ["::ffff:127.0.0.1"],
    "cgnat.example": ["100.64.0.1"],
    "multicast.example": ["224.0.0.1"],
    "split.example": ["93.184.216.34", "192.168.1.1"],  # one bad address is enough
}


def fake_resolver(host: str) -> Sequence[str]:
    if host not in FAKE_DNS:
        raise OSError("name not known")
    return FAKE_DNS[host]


def guard(allow_loopback: bool = False) -> TargetGuard:
    return TargetGuard(allow_loopback=allow_loopback, resolver=fake_resolver)


@pytest.mark.parametrize("host", [
    "loopback.example", "intranet.example", "metadata.example", "v6-loopback.example",
    "mapped.example", "cgnat.example", "multicast.example", "split.example",
    "127.0.0.1", "[::1]", "10.0.0.1", "172.16.5.5", "192.168.0.1", "169.254.169.254",
    "0.0.0.0", "240.0.0.1", "unknown.example",  # noqa: S104 - a target, not a bind
])
def test_internal_addresses_are_refused(host: str) -> None:
    with pytest.raises(TargetNotAllowed) as refused:
        guard().check_url(f"https://{host}/postback?x=1")
    assert refused.value.code == "target_not_allowed"


@pytest.mark.parametrize("url", [
    "ftp://tracker.example/x", "file:///etc/passwd", "gopher://tracker.example/",
    "https://user:pass@tracker.example/x", "https://user@tracker.example/x",
    "https:///nohost", "http://tracker.example:0/", "http://tracker.example:99999/",
])
def test_only_plain_http_and_https_urls_without_credentials(url: str) -> None:
    with pytest.raises(TargetNotAllowed):
        guard().check_url(url)


def test_a_public_target_passes_and_loopback_only_with_the_setting() -> None:
    assert guard().check_url("https://tracker.example/p?s=1") == "93.184.216.34"
    assert guard(allow_loopback=True).check_url("http://loopback.example:8080/") == "127.0.0.1"
    assert guard(allow_loopback=True).check_url("http://[::1]:8080/") == "::1"
    with pytest.raises(TargetNotAllowed):
        guard(allow_loopback=True).check_url("http://intranet.example/")


def test_the_connection_itself_refuses_a_name_that_now_resolves_inside() -> None:
    """DNS rebinding: even if a pre-send check passed, the connect goes through the guard."""
    rebinding = TargetGuard(resolver=lambda host: ["10.9.9.9"])

    async def call() -> None:
        async with httpx.AsyncClient(transport=guarded_transport(rebinding, 4)) as client:
            await client.get("http://rebind.example/postback")

    with pytest.raises(httpx.ConnectError, match="private address"):
        asyncio.run(call())
