"""Landing URLs: the link's own ids are filled in once, the rest per click, all encoded."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from clickledger.tracking.redirect import MACROS, LandingTemplate

AFFILIATE = "0190a000-0000-7000-8000-0000000000aa"
OFFER = "0190a000-0000-7000-8000-0000000000bb"
CLICK = "0190a000-0000-7000-8000-0000000000cc"


def _values(**given: str) -> list[str]:
    return [given.get(name, "") for name in MACROS]


def test_the_links_ids_are_written_in_when_the_template_is_compiled() -> None:
    template = LandingTemplate.compile(
        "https://www.brand.example/go?aff={affiliate_id}&o={offer_id}&cid={click_id}&s={sub1}",
        ("brand.example",),
        fixed={"affiliate_id": AFFILIATE, "offer_id": OFFER},
    )
    assert template.slots == (MACROS.index("click_id"), MACROS.index("sub1"))
    url = template.fill(_values(click_id=CLICK, sub1="spring sale&x=1"))
    assert url is not None
    assert parse_qs(urlsplit(url).query) == {
        "aff": [AFFILIATE],
        "o": [OFFER],
        "cid": [CLICK],
        "s": ["spring sale&x=1"],
    }


def test_a_fixed_id_in_the_host_is_checked_once_against_the_allowed_domains() -> None:
    allowed = LandingTemplate.compile(
        "https://a{affiliate_id}.brand.example/{sub1}",
        ("brand.example",),
        fixed={"affiliate_id": "7"},
    )
    assert allowed.static_host_ok is True
    assert allowed.fill(_values(sub1="x")) == "https://a7.brand.example/x"
    elsewhere = LandingTemplate.compile(
        "https://{affiliate_id}/", ("brand.example",), fixed={"affiliate_id": "evil.example"}
    )
    assert elsewhere.static_host_ok is False and elsewhere.fill(_values()) is None


def test_a_sub_id_in_the_host_is_checked_on_every_click() -> None:
    template = LandingTemplate.compile("https://{sub1}/welcome", ("brand.example",))
    assert template.static_host_ok is None
    assert template.fill(_values(sub1="de.brand.example")) == "https://de.brand.example/welcome"
    assert template.fill(_values(sub1="evil.example")) is None
