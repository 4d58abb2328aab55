"""Landing URL rules: known macros only, http(s) only, the host among the allowed domains."""

from __future__ import annotations

import pytest

from clickledger.services.landing_urls import (
    UrlRuleError,
    check_landing_url,
    host_allowed,
    normalize_domains,
    url_host,
)


def test_a_landing_url_with_every_macro_on_an_allowed_domain_passes() -> None:
    template = ("https://Casino.Example/go?btag={click_id}&a={affiliate_id}&o={offer_id}"
                "&s={sub1}-{sub2}-{sub3}-{sub4}-{sub5}")
    check_landing_url(template, ["casino.example"])
    assert url_host(template) == "casino.example"


@pytest.mark.parametrize(
    ("template", "code"),
    [
        ("https://casino.example/?x={click}", "unknown_macro"),
        ("https://casino.example/?x={click_id", "invalid_url"),
        ("https://{sub1}/", "invalid_url"),
        ("https://a@casino.example/", "invalid_url"),
        ("mailto:x@casino.example", "url_scheme_not_allowed"),
        ("casino.example/path", "url_scheme_not_allowed"),
        ("https:///path", "invalid_url"),
        ("https://casino.example/\n", "invalid_url"),
        ("https://evil.example/", "domain_not_allowed"),
        ("https://casino.example.evil.example/", "domain_not_allowed"),
        ("https://notcasino.example/", "domain_not_allowed"),
    ],
)
def test_a_landing_url_that_breaks_a_rule_says_which(template: str, code: str) -> None:
    with pytest.raises(UrlRuleError) as caught:
        check_landing_url(template, ["casino.example"])
    assert caught.value.code == code


def test_a_wildcard_domain_admits_sub_domains_but_not_the_bare_domain() -> None:
    assert host_allowed("m.casino.example", ["*.casino.example"])
    assert host_allowed("a.b.casino.example", ["*.casino.example"])
    assert not host_allowed("casino.example", ["*.casino.example"])
    assert not host_allowed("xcasino.example", ["*.casino.example"])


def test_allowed_domains_are_normalised_and_bounded() -> None:
    assert normalize_domains(["Casino.Example.", "casino.example", "*.EU.casino.example"]) == [
        "casino.example", "*.eu.casino.example"]
    for bad in ([], ["bad domain"], ["-x.example"], ["*.*.example"], ["x" * 64 + ".example"],
                ["a.example"] * 51):
        with pytest.raises(UrlRuleError):
            normalize_domains(bad)


def test_a_fallback_url_may_not_carry_macros() -> None:
    with pytest.raises(UrlRuleError):
        url_host("https://casino.example/{click_id}", allow_macros=False)
    assert url_host("http://casino.example:8080/home", allow_macros=False) == "casino.example"
