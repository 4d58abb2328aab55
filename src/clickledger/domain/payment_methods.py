"""Payment methods an affiliate can be paid by, validated before anyone confirms them.

- ``bank``: IBAN (ISO 13616 mod-97 checksum, per-country length and structure)
  and optional BIC (ISO 9362 shape and country), both checked with the
  maintained ``schwifty`` library; an account holder name.
- ``ewallet``: Skrill / Neteller style: an e-mail address or a numeric account id.
- ``crypto``: an address on a named network.  TRC20 and legacy Bitcoin
  addresses are Base58Check (checksum verified), ERC20/BEP20/Polygon are
  ``0x`` + 40 hex digits (the EIP-55 mixed-case checksum is not verified:
  the standard library has no Keccak-256), Bitcoin SegWit addresses are
  bech32/bech32m (checksum verified, BIP-173/BIP-350).

Every function returns normalized details (a plain dict ready for JSON) or
raises ``PaymentDetailsError`` naming the field and a stable code.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

MAX_NAME_CHARS = 70  # SEPA creditor name limit
MAX_FIELD_CHARS = 200


class Method(StrEnum):
    BANK = "bank"
    EWALLET = "ewallet"
    CRYPTO = "crypto"


class EwalletProvider(StrEnum):
    SKRILL = "skrill"
    NETELLER = "neteller"


class CryptoNetwork(StrEnum):
    TRC20 = "TRC20"
    ERC20 = "ERC20"
    BEP20 = "BEP20"
    POLYGON = "POLYGON"
    BTC = "BTC"


EVM_NETWORKS = frozenset({CryptoNetwork.ERC20, CryptoNetwork.BEP20, CryptoNetwork.POLYGON})


class PaymentDetailsError(ValueError):
    """Details that cannot be used to pay, with the offending field and a stable code."""

    def __init__(self, code: str, field: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.field = field
        self.message = message


_EMAIL = re.compile(r"^[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)+$")
_NUMERIC_ACCOUNT = re.compile(r"^[0-9]{6,16}$")
_EVM_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BECH32_ALPHABET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_CONST = 1
_BECH32M_CONST = 0x2BC830A3
TRON_VERSION_BYTE = 0x41
BTC_BASE58_VERSION_BYTES = frozenset({0x00, 0x05})  # P2PKH, P2SH


def _text(details: Mapping[str, Any], field: str, *, required: bool = True) -> str | None:
    value = details.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise PaymentDetailsError("missing_field", field, f"{field} is required")
        return None
    if not isinstance(value, str):
        raise PaymentDetailsError("invalid_field", field, f"{field} must be text")
    stripped = value.strip()
    if len(stripped) > MAX_FIELD_CHARS:
        raise PaymentDetailsError("invalid_field", field, f"{field} is too long")
    if any(ord(char) < 32 for char in stripped):
        raise PaymentDetailsError("invalid_field", field, f"{field} holds control characters")
    return stripped


def validate_iban(text: str) -> str:
    """The IBAN in compact upper-case form, or ``PaymentDetailsError``."""
    from schwifty import IBAN  # noqa: PLC0415 - heavy, loaded on first use
    from schwifty.exceptions import SchwiftyException  # noqa: PLC0415 - heavy, loaded on first use

    try:
        return str(IBAN(text).compact)
    except SchwiftyException as exc:
        raise PaymentDetailsError("invalid_iban", "iban", f"invalid IBAN: {exc}") from exc


def validate_bic(text: str) -> str:
    """The BIC in compact upper-case form (8 or 11 characters), or ``PaymentDetailsError``."""
    from schwifty import BIC  # noqa: PLC0415 - heavy, loaded on first use
    from schwifty.exceptions import SchwiftyException  # noqa: PLC0415 - heavy, loaded on first use

    try:
        return str(BIC(text).compact)
    except SchwiftyException as exc:
        raise PaymentDetailsError("invalid_bic", "bic", f"invalid BIC: {exc}") from exc


def _bank(details: Mapping[str, Any]) -> dict[str, Any]:
    holder = _text(details, "account_holder")
    assert holder is not None
    if len(holder) > MAX_NAME_CHARS:
        raise PaymentDetailsError("invalid_field", "account_holder", "account_holder is too long")
    iban = validate_iban(_text(details, "iban") or "")
    bic_text = _text(details, "bic", required=False)
    bic = validate_bic(bic_text) if bic_text else None
    return {"method": Method.BANK.value, "account_holder": holder, "iban": iban, "bic": bic}


def _ewallet(details: Mapping[str, Any]) -> dict[str, Any]:
    provider_text = (_text(details, "provider") or "").lower()
    try:
        provider = EwalletProvider(provider_text)
    except ValueError as exc:
        names = ", ".join(p.value for p in EwalletProvider)
        raise PaymentDetailsError(
            "invalid_provider", "provider", f"provider must be one of: {names}"
        ) from exc
    account = _text(details, "account_id") or ""
    if _EMAIL.match(account):
        account = account.lower()
    elif not _NUMERIC_ACCOUNT.match(account):
        raise PaymentDetailsError(
            "invalid_account_id", "account_id",
            "account_id must be the wallet's e-mail address or its 6-16 digit account number",
        )
    return {"method": Method.EWALLET.value, "provider": provider.value, "account_id": account}


def _base58_decode(text: str) -> bytes | None:
    number = 0
    for char in text:
        digit = _BASE58_ALPHABET.find(char)
        if digit < 0:
            return None
        number = number * 58 + digit
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    leading_zeros = len(text) - len(text.lstrip("1"))
    return b"\x00" * leading_zeros + body


def base58check_payload(text: str) -> bytes | None:
    """The payload (version byte first) of a Base58Check string whose checksum holds."""
    raw = _base58_decode(text)
    if raw is None or len(raw) < 5:
        return None
    payload, checksum = raw[:-4], raw[-4:]
    digest = hashlib.sha256(hashlib.sha256(payload).digest()).digest()
    return payload if digest[:4] == checksum else None


def _bech32_polymod(values: list[int]) -> int:
    generator = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    checksum = 1
    for value in values:
        top = checksum >> 25
        checksum = (checksum & 0x1FFFFFF) << 5 ^ value
        for index in range(5):
            checksum ^= generator[index] if (top >> index) & 1 else 0
    return checksum


def bech32_is_valid(address: str, hrp: str = "bc") -> bool:
    """True for a bech32 (witness v0) or bech32m (v1+) address with the given prefix."""
    if address.lower() != address and address.upper() != address:
        return False
    text = address.lower()
    separator = text.rfind("1")
    if text[:separator] != hrp or not 14 <= len(text) <= 90 or len(text) - separator < 7:
        return False
    try:
        data = [_BECH32_ALPHABET.index(char) for char in text[separator + 1:]]
    except ValueError:
        return False
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    constant = _bech32_polymod(expanded + data)
    version = data[0]
    expected = _BECH32_CONST if version == 0 else _BECH32M_CONST
    return version <= 16 and constant == expected


def validate_crypto_address(network: CryptoNetwork, address: str) -> str:
    """The address, normalized where the network allows, or ``PaymentDetailsError``."""
    if network in EVM_NETWORKS:
        if not _EVM_ADDRESS.match(address):
            raise PaymentDetailsError(
                "invalid_address", "address", f"{network} addresses are 0x and 40 hex digits"
            )
        return address
    if network is CryptoNetwork.TRC20:
        payload = base58check_payload(address) if address.startswith("T") else None
        if payload is None or len(payload) != 21 or payload[0] != TRON_VERSION_BYTE:
            raise PaymentDetailsError(
                "invalid_address", "address", "TRC20 addresses are Base58Check starting with T"
            )
        return address
    if address.lower().startswith("bc1"):
        if not bech32_is_valid(address):
            raise PaymentDetailsError("invalid_address", "address", "invalid bech32 BTC address")
        return address.lower()
    payload = base58check_payload(address)
    if payload is None or len(payload) != 21 or payload[0] not in BTC_BASE58_VERSION_BYTES:
        raise PaymentDetailsError("invalid_address", "address", "invalid BTC address")
    return address


def _crypto(details: Mapping[str, Any]) -> dict[str, Any]:
    network_text = (_text(details, "network") or "").upper()
    try:
        network = CryptoNetwork(network_text)
    except ValueError as exc:
        names = ", ".join(n.value for n in CryptoNetwork)
        raise PaymentDetailsError(
            "invalid_network", "network", f"network must be one of: {names}"
        ) from exc
    address = validate_crypto_address(network, _text(details, "address") or "")
    return {"method": Method.CRYPTO.value, "network": network.value, "address": address}


def validate_payment_details(details: Mapping[str, Any]) -> dict[str, Any]:
    """Check ``details`` (with a ``method`` key) and return them normalized."""
    method_text = (_text(details, "method") or "").lower()
    if method_text == Method.BANK:
        return _bank(details)
    if method_text == Method.EWALLET:
        return _ewallet(details)
    if method_text == Method.CRYPTO:
        return _crypto(details)
    names = ", ".join(m.value for m in Method)
    raise PaymentDetailsError("invalid_method", "method", f"method must be one of: {names}")


def payee_account_text(details: Mapping[str, Any]) -> str:
    """One line naming where the money goes, for files and screens."""
    method = details.get("method")
    if method == Method.BANK:
        return f"{details.get('iban')} {details.get('bic') or ''}".strip()
    if method == Method.EWALLET:
        return f"{details.get('provider')}:{details.get('account_id')}"
    if method == Method.CRYPTO:
        return f"{details.get('network')}:{details.get('address')}"
    return ""
