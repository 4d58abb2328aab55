"""A click's country and device: read offline, and the same as the libraries' own answers."""

from __future__ import annotations

import random

from clickledger.tracking.enrich import Enricher, _load_geo, _lookup_country


def _addresses(count: int) -> list[str]:
    rnd = random.Random(2026)
    v4 = [".".join(str(rnd.randint(0, 255)) for _ in range(4)) for _ in range(count)]
    v6 = [":".join(f"{rnd.randint(0, 0xFFFF):x}" for _ in range(8)) for _ in range(count // 4)]
    allocated_v6 = [
        f"2a0{rnd.randint(0, 9)}:{rnd.randint(0, 0xFFFF):x}::1" for _ in range(count // 4)
    ]
    return v4 + v6 + allocated_v6


def test_the_country_is_the_one_geoip2fast_itself_gives() -> None:
    """The writer reads geoip2fast's tables directly (its ``lookup`` does 6x the work); for
    thousands of addresses, IPv4 and IPv6, the answer is ``lookup``'s."""
    enricher = Enricher()
    enricher.load()
    database = _load_geo()
    addresses = _addresses(4000)
    found = {address: enricher.country(address) for address in addresses}
    assert found == {address: _lookup_country(database, address) for address in addresses}
    assert sum(country is not None for country in found.values()) > 2000  # mostly placed


def test_known_places_private_networks_and_junk() -> None:
    enricher = Enricher()
    enricher.load()
    assert enricher.country("8.8.8.8") == "US"
    assert enricher.country("5.9.0.1") == "DE"
    assert enricher.country("2001:4860:4860::8888") == "US"
    for nowhere in (
        "10.0.0.1",
        "127.0.0.1",
        "192.168.1.1",
        "::1",
        "::ffff:8.8.8.8",
        "not an ip",
        "",
        "8.8.8.8\x00",
        "fe80::1%eth0",
    ):
        assert enricher.country(nowhere) is None, nowhere


def test_device_os_browser_and_bot_come_from_the_user_agent() -> None:
    enricher = Enricher()
    iphone = enricher.user_agent(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
    )
    assert (iphone.device, iphone.os, iphone.browser, iphone.is_bot) == (
        "iPhone",
        "iOS",
        "Mobile Safari",
        False,
    )
    assert enricher.user_agent("curl/8.4.0").is_bot is True
    assert enricher.user_agent("").device is None
