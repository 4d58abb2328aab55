"""Payment details are checked before a manager sees them: IBAN/BIC, wallets, crypto addresses."""

from __future__ import annotations

import pytest

from clickledger.domain.payment_methods import PaymentDetailsError, validate_payment_details


def bank(**fields: str) -> dict[str, str]:
    return {"method": "bank", "account_holder": "Ana Affiliate", **fields}


def test_a_valid_iban_with_spaces_is_stored_compact_with_its_bic() -> None:
    details = validate_payment_details(bank(iban="de89 3704 0044 0532 0130 00", bic="cobadeffxxx"))
    assert details == {"method": "bank", "account_holder": "Ana Affiliate",
                       "iban": "DE89370400440532013000", "bic": "COBADEFFXXX"}


@pytest.mark.parametrize("iban", [
    "DE89370400440532013001",  # checksum (mod 97) wrong
    "DE8937040044053201300",  # too short for Germany
    "XX89370400440532013000",  # no such country
])
def test_a_bad_iban_is_refused(iban: str) -> None:
    with pytest.raises(PaymentDetailsError) as caught:
        validate_payment_details(bank(iban=iban))
    assert caught.value.code == "invalid_iban" and caught.value.field == "iban"


@pytest.mark.parametrize("bic", ["COBAXXFF", "COBADE", "COBA DEFF 1", "12ABDEFFXXXX"])
def test_a_malformed_bic_is_refused(bic: str) -> None:
    with pytest.raises(PaymentDetailsError) as caught:
        validate_payment_details(bank(iban="DE89370400440532013000", bic=bic))
    assert caught.value.code == "invalid_bic"


def test_wallets_take_an_email_or_a_numeric_account() -> None:
    assert validate_payment_details(
        {"method": "ewallet", "provider": "Skrill", "account_id": "Ana@Example.com"}
    )["account_id"] == "ana@example.com"
    assert validate_payment_details(
        {"method": "ewallet", "provider": "neteller", "account_id": "451234567890"}
    )["provider"] == "neteller"
    with pytest.raises(PaymentDetailsError):
        validate_payment_details(
            {"method": "ewallet", "provider": "neteller", "account_id": "ab12"})
    with pytest.raises(PaymentDetailsError):
        validate_payment_details({"method": "ewallet", "provider": "paypal", "account_id": "a@b.c"})


@pytest.mark.parametrize(("network", "address"), [
    ("TRC20", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"),
    ("ERC20", "0x52908400098527886E0F7030069857D2E4169EE7"),
    ("bep20", "0xde0b295669a9fd93d5f28d9ec85e40f4cb697bae"),
    ("BTC", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"),
    ("BTC", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"),
    ("BTC", "bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297"),
])
def test_well_formed_crypto_addresses_pass(network: str, address: str) -> None:
    details = validate_payment_details({"method": "crypto", "network": network, "address": address})
    assert details["network"] == network.upper()


@pytest.mark.parametrize(("network", "address"), [
    ("TRC20", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6u"),  # checksum broken
    ("TRC20", "0x52908400098527886E0F7030069857D2E4169EE7"),  # wrong network
    ("ERC20", "0x52908400098527886E0F7030069857D2E4169EE"),  # 39 hex digits
    ("BTC", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb"),  # checksum broken
    ("BTC", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdx"),  # bech32 checksum broken
    ("SOL", "4Nd1mYQz1P8y1sQ8u9rD6ZGp8Qy6xkJ1ZyK8mP9cQ2xF"),  # network not offered
])
def test_malformed_crypto_addresses_are_refused(network: str, address: str) -> None:
    with pytest.raises(PaymentDetailsError):
        validate_payment_details({"method": "crypto", "network": network, "address": address})


def test_unknown_methods_and_missing_fields_name_the_field() -> None:
    with pytest.raises(PaymentDetailsError) as caught:
        validate_payment_details({"method": "cheque"})
    assert caught.value.field == "method"
    with pytest.raises(PaymentDetailsError) as caught:
        validate_payment_details({"method": "bank", "iban": "DE89370400440532013000"})
    assert caught.value.field == "account_holder"
