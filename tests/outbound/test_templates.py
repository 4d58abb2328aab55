"""Postback URL templates fill every macro, URL-encoded, in each tracker's own status words."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clickledger.outbound import templates as tpl

FTD = tpl.PostbackFacts(
    event_id="0190a1b2-0000-7000-8000-000000000001", event_kind="ftd", status="sale",
    occurred_at="2026-01-01T00:00:00+00:00", click_id="0190a1b2-0000-7000-8000-0000000000cc",
    subs=("tracker click&id=1", "fb/ads", None, "ü ñ", "x+y"), payout="150.00",
    currency="EUR", player_id="abc123", amount="20.00", amount_currency="EUR",
)


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


def test_keitaro_postback_gets_sale_with_payout_and_the_affiliates_own_click_id() -> None:
    words = tpl.resolve_status_words("keitaro", None)
    url = tpl.render("https://t.example/postback?subid={sub1}&status={status}&payout={payout}"
                     "&currency={currency}&tid={txn_id}", FTD, words)
    assert query(url) == {"subid": ["tracker click&id=1"], "status": ["sale"],
                          "payout": ["150.00"], "currency": ["EUR"], "tid": [FTD.event_id]}
    assert "click%26id%3D1" in url  # the & and = inside a value cannot break the query


def test_every_value_is_url_encoded_and_a_missing_sub_is_empty() -> None:
    url = tpl.render("https://t.example/p?a={sub2}&b={sub3}&c={sub4}&d={sub5}", FTD, {})
    assert url == "https://t.example/p?a=fb%2Fads&b=&c=%C3%BC%20%C3%B1&d=x%2By"


def test_tune_gets_approved_for_a_sale_and_rejected_for_a_chargeback() -> None:
    words = tpl.resolve_status_words("tune", None)
    template = "https://tune.example/aff_lsr?transaction_id={txn_id}&status={status}"
    assert query(tpl.render(template, FTD, words))["status"] == ["approved"]
    chargeback = tpl.PostbackFacts(event_id="e2", event_kind="chargeback",
                                   status=tpl.canonical_status("chargeback", -15000,
                                                               frozenset({"approved"})),
                                   occurred_at=FTD.occurred_at)
    assert query(tpl.render(template, chargeback, words))["status"] == ["rejected"]


@pytest.mark.parametrize(("status", "affise_word"), [
    ("sale", "1"), ("pending", "2"), ("lead", "2"), ("rejected", "3"), ("hold", "5"),
])
def test_affise_status_numbers(status: str, affise_word: str) -> None:
    words = tpl.resolve_status_words("affise", None)
    facts = tpl.PostbackFacts(event_id="e", event_kind="ftd", status=status, occurred_at="t")
    assert tpl.render("https://a.example/p?status={status}", facts, words).endswith(affise_word)


def test_binom_cnv_status_and_voluum_event_type_use_the_affiliates_own_words() -> None:
    words = tpl.resolve_status_words("binom", {"sale": "dep", "ftd": "FirstDeposit"})
    url = tpl.render("https://b.example/click.php?cnv_id={sub1}&payout={payout}"
                     "&cnv_status={status}&et={event}", FTD, words)
    assert query(url)["cnv_status"] == ["dep"]
    assert query(url)["et"] == ["FirstDeposit"]


def test_canonical_status_follows_the_event_and_the_commission() -> None:
    none: frozenset[str] = frozenset()
    assert tpl.canonical_status("registration", 0, none) == "lead"
    assert tpl.canonical_status("ftd", 0, none) == "sale"
    assert tpl.canonical_status("deposit", 0, none) == "rebill"
    assert tpl.canonical_status("ftd", 5000, frozenset({"pending"})) == "pending"
    assert tpl.canonical_status("ftd", 5000, frozenset({"on_hold"})) == "hold"
    assert tpl.canonical_status("reversal", 0, none) == "rejected"
    assert tpl.canonical_status("trade", -100, frozenset({"approved"})) == "rejected"


def test_an_unknown_macro_or_a_macro_in_the_host_is_refused_with_a_reason() -> None:
    with pytest.raises(tpl.TemplateError, match="unknown macro") as unknown:
        tpl.validate_template("https://t.example/p?x={subid}")
    assert unknown.value.code == "invalid_template"
    with pytest.raises(tpl.TemplateError, match="path and query"):
        tpl.validate_template("https://{sub1}.example/p")
    tpl.validate_template("https://t.example/p/{click_id}?s={status}")


def test_status_words_accept_statuses_and_event_kinds_only() -> None:
    with pytest.raises(tpl.TemplateError):
        tpl.validate_status_words({"approved_ish": "1"})
    with pytest.raises(tpl.TemplateError):
        tpl.resolve_status_words("no-such-tracker", None)
    assert tpl.validate_status_words({"sale": "1", "ftd": "dep"}) == {"sale": "1", "ftd": "dep"}


def test_the_player_id_is_a_stable_keyed_pseudonym() -> None:
    first = tpl.pseudonymous_player_id("k" * 40, "player-1")
    assert first == tpl.pseudonymous_player_id("k" * 40, "player-1")
    assert first != tpl.pseudonymous_player_id("other-key" * 5, "player-1")
    assert "player-1" not in first and len(first) == 32


def test_money_is_shown_in_the_currencys_own_minor_units() -> None:
    assert tpl.money_text(1250, "EUR") == "12.50"
    assert tpl.money_text(1250, "JPY") == "1250"
    assert tpl.money_text(1250, "KWD") == "1.250"
    assert tpl.money_text(None, "EUR") == ""
    assert tpl.zero_text("EUR") == "0.00"


MACRO_TEXT = st.lists(st.sampled_from([*sorted(tpl.MACROS), "unknown", "sub6"]), max_size=4)
LITERALS = st.text(alphabet="ab/?&=.{}%", max_size=6)


@given(MACRO_TEXT, st.lists(LITERALS, min_size=5, max_size=5),
       st.sampled_from(["keitaro", "affise", None]))
def test_a_compiled_template_renders_what_the_macro_rule_says(
    names: list[str], literals: list[str], preset: str | None,
) -> None:
    template = literals[0] + "".join(
        "{" + name + "}" + literal for name, literal in zip(names, literals[1:], strict=False))
    words = tpl.resolve_status_words(preset, None)
    values = tpl.macro_values(FTD, words)
    # the rule: a known macro becomes its value, URL-encoded; anything else stays as written
    expected = re.sub(r"\{([A-Za-z0-9_]+)\}",
                      lambda m: quote(values[m[1]], safe="") if m[1] in values else m[0],
                      template)
    assert tpl.CompiledTemplate(template, words).render(FTD) == expected
    assert tpl.render(template, FTD, words) == expected
