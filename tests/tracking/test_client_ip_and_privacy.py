"""Where a click comes from: the peer, or X-Forwarded-For only behind a trusted proxy;
and how its IP is kept: in full, truncated or keyed-hashed."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from starlette.testclient import TestClient

from clickledger.runtime import Runtime
from clickledger.tracking.client_ip import ClientIpResolver, InvalidTrustedProxy
from clickledger.tracking.retention import IpPolicy, truncate_ip

from .conftest import ClientFactory, Programme, click_rows


def test_forwarded_for_is_ignored_from_an_untrusted_peer() -> None:
    resolver = ClientIpResolver(["10.0.0.0/8"])
    assert resolver.resolve("203.0.113.9", b"1.1.1.1") == "203.0.113.9"


def test_forwarded_for_is_read_right_to_left_past_trusted_hops() -> None:
    resolver = ClientIpResolver(["10.0.0.0/8", "2001:db8::/32"])
    assert resolver.resolve("10.0.0.2", b"6.6.6.6, 8.8.8.8, 10.1.1.1") == "8.8.8.8"
    assert resolver.resolve("2001:db8::1", b"[2001:4860::8888]:443") == "2001:4860::8888"
    assert resolver.resolve("10.0.0.2", b"8.8.4.4:5555") == "8.8.4.4"
    assert resolver.resolve("10.0.0.2", b"garbage, 10.2.2.2") == "10.2.2.2"
    assert resolver.resolve("10.0.0.2", b"") == "10.0.0.2"


def test_a_remembered_forwarded_address_resolves_as_it_did_the_first_time() -> None:
    """Forwarded entries are remembered (a proxy forwards the same clients again and
    again): asking twice gives the first answer, invalid and trusted entries included;
    an entry too long to be an address is never remembered."""
    resolver = ClientIpResolver(["10.0.0.0/8"])
    chains = [b"6.6.6.6, 8.8.8.8, 10.1.1.1", b"garbage, 10.2.2.2", b" 8.8.4.4:5555",
              b"1.1.1.1, " + b"x" * 5000 + b", 10.3.3.3"]
    first = [resolver.resolve("10.0.0.2", chain) for chain in chains]
    assert first == ["8.8.8.8", "10.2.2.2", "8.8.4.4", "10.3.3.3"]
    assert [resolver.resolve("10.0.0.2", chain) for chain in chains] == first
    assert resolver.resolve("203.0.113.9", b"8.8.8.8") == "203.0.113.9"  # untrusted peer
    assert all(len(entry) <= 64 for entry in resolver._hops)


def test_a_bad_trusted_proxy_setting_is_refused() -> None:
    with pytest.raises(InvalidTrustedProxy):
        ClientIpResolver(["not-an-ip"])


def test_ip_truncation_keeps_the_network_only() -> None:
    assert truncate_ip("203.0.113.77") == "203.0.113.0"
    assert truncate_ip("2001:db8:abcd:12:1:2:3:4") == "2001:db8:abcd::"
    assert truncate_ip("nonsense") is None


def test_the_click_behind_a_trusted_proxy_records_the_forwarded_client(
    runtime: Runtime, programme: Programme, app_client: ClientFactory
) -> None:
    runtime.settings.trusted_proxies = ["127.0.0.0/8"]
    client = app_client(client_ip="127.0.0.1")
    response = client.get("/c/spring", headers={"x-forwarded-for": "9.9.9.9, 8.8.8.8"})
    assert response.status_code == 302
    untrusted = app_client(client_ip="198.51.100.7")
    untrusted.get("/c/spring", headers={"x-forwarded-for": "8.8.4.4"})
    assert sorted(row.ip for row in click_rows(runtime.engine)) == ["198.51.100.7", "8.8.8.8"]


@pytest.mark.parametrize("mode", ["truncated", "hashed"])
def test_ips_are_kept_truncated_or_hashed_and_the_country_still_comes_from_the_full_ip(
    runtime: Runtime, programme: Programme, app_client: ClientFactory, mode: str
) -> None:
    runtime.settings.ip_storage = mode  # type: ignore[assignment]
    client: TestClient = app_client(client_ip="8.8.8.8")
    assert client.get("/c/spring").status_code == 302
    (row,) = click_rows(runtime.engine)
    key = runtime.settings.secret_key.encode()
    expected = {
        "truncated": "8.8.8.0",
        "hashed": hmac.new(key, b"8.8.8.8", hashlib.sha256).hexdigest(),
    }[mode]
    assert row.ip == expected
    assert row.country == "US"
    assert "8.8.8.8" not in {row.ip, row.visitor_key}


def test_hashed_ips_are_keyed_so_equal_ips_match_but_keys_differ() -> None:
    first, second = IpPolicy("hashed", "k" * 40), IpPolicy("hashed", "j" * 40)
    assert first.stored("1.2.3.4") == first.stored("1.2.3.4")
    assert first.stored("1.2.3.4") != second.stored("1.2.3.4")
    assert len(first.stored("1.2.3.4") or "") == 64
