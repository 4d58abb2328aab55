"""Postback URL templates: macros, status words per tracker, and the facts they are filled from.

A template is the affiliate's own tracker URL with macros in braces, e.g. Keitaro's
``https://t.example/postback?subid={sub1}&status={status}&payout={payout}&tid={txn_id}``.
Every value is URL-encoded (``quote(value, safe="")``); a missing value is empty.

Macros: ``{click_id}`` (our click id), ``{sub1}``..``{sub5}``, ``{event}`` (the event
kind, or the template's word for it), ``{status}`` (the template's word for the
canonical status), ``{payout}`` / ``{currency}`` (the affiliate's commission for
this event), ``{txn_id}`` (our event id: unique and stable per event, so a
tracker deduplicates on it), ``{player_id}`` (a keyed HMAC of our player id:
stable, pseudonymous), ``{amount}`` / ``{amount_currency}`` (the player's amount).

Canonical statuses: ``lead`` (registration), ``sale`` (FTD), ``rebill`` (later
deposits, trades, activity, withdrawals), ``rejected`` (chargeback, reversal, a
negative payout or a commission reversed, e.g. for fraud), ``pending`` / ``hold`` (a
commission posted but not approved, e.g. held for fraud review).
``status_words`` maps a canonical status, or an event kind, to the tracker's
own word; presets cover Keitaro, TUNE/HasOffers, Affise, Binom, Voluum and Everflow.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Final
from urllib.parse import quote, urlsplit

from clickledger.domain.events import EventKind
from clickledger.domain.money import MINOR_UNITS, from_minor, quantize
from clickledger.hmacs import hmac_sha256_hex

MACROS: Final = frozenset({
    "click_id", "sub1", "sub2", "sub3", "sub4", "sub5", "event", "status", "payout",
    "currency", "txn_id", "player_id", "amount", "amount_currency",
})
STATUSES: Final = ("lead", "sale", "rebill", "rejected", "pending", "hold")
EVENT_KINDS: Final = frozenset(kind.value for kind in EventKind)
MAX_WORD_LENGTH = 64
MAX_TEMPLATE_LENGTH = 2000
PLAYER_ID_HEX_CHARS = 32

_MACRO_RE = re.compile(r"\{([A-Za-z0-9_]+)\}")

STATUS_PRESETS: Final[dict[str, dict[str, str]]] = {
    # Keitaro: status=lead|sale|rejected|rebill
    "keitaro": {"lead": "lead", "sale": "sale", "rebill": "rebill", "rejected": "rejected",
                "pending": "lead", "hold": "lead"},
    # TUNE / HasOffers: status=approved|pending|rejected
    "tune": {"lead": "pending", "sale": "approved", "rebill": "approved",
             "rejected": "rejected", "pending": "pending", "hold": "pending"},
    # Affise: 1 approved, 2 pending, 3 declined, 5 hold
    "affise": {"lead": "2", "sale": "1", "rebill": "1", "rejected": "3", "pending": "2",
               "hold": "5"},
    # Binom cnv_status, Voluum et=, Everflow: free words; these are common choices
    "binom": {"lead": "lead", "sale": "sale", "rebill": "rebill", "rejected": "rejected",
              "pending": "pending", "hold": "hold"},
    "voluum": {"lead": "lead", "sale": "sale", "rebill": "rebill", "rejected": "rejected",
               "pending": "pending", "hold": "hold"},
    "everflow": {"lead": "pending", "sale": "approved", "rebill": "approved",
                 "rejected": "rejected", "pending": "pending", "hold": "pending"},
}


class TemplateError(ValueError):
    """A template or a status-word map that cannot be used; ``code`` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class PostbackFacts:
    """Everything a template can say about one event, already in text where it matters."""

    event_id: str
    event_kind: str
    status: str
    occurred_at: str
    click_id: str | None = None
    subs: tuple[str | None, str | None, str | None, str | None, str | None] = (
        None, None, None, None, None)
    payout: str = "0"
    currency: str = ""
    player_id: str = ""
    amount: str = ""
    amount_currency: str = ""
    offer_id: str | None = None


# --- validation -------------------------------------------------------------


def macros_in(template: str) -> list[str]:
    return _MACRO_RE.findall(template)


def validate_template(template: str) -> None:
    """Refuse unknown macros and macros outside the path/query (the target must be fixed)."""
    if len(template) > MAX_TEMPLATE_LENGTH:
        raise TemplateError("invalid_template", f"template longer than {MAX_TEMPLATE_LENGTH}")
    unknown = sorted(set(macros_in(template)) - MACROS)
    if unknown:
        raise TemplateError(
            "invalid_template",
            f"unknown macro(s) {', '.join(unknown)}; known: {', '.join(sorted(MACROS))}",
        )
    parts = urlsplit(template)
    if "{" in parts.scheme or "{" in parts.netloc:
        raise TemplateError("invalid_template", "macros are allowed in the path and query only")


def validate_status_words(words: Mapping[str, str] | None) -> dict[str, str]:
    """A clean copy of ``words``: keys are canonical statuses or event kinds, values short text."""
    if not words:
        return {}
    clean: dict[str, str] = {}
    for key, value in words.items():
        if key not in STATUSES and key not in EVENT_KINDS:
            raise TemplateError(
                "invalid_status_words",
                f"unknown key {key!r}; use a status ({', '.join(STATUSES)}) or an event kind",
            )
        if not isinstance(value, str) or not value or len(value) > MAX_WORD_LENGTH:
            raise TemplateError("invalid_status_words", f"word for {key!r} must be 1-64 chars")
        clean[key] = value
    return clean


def resolve_status_words(preset: str | None, words: Mapping[str, str] | None) -> dict[str, str]:
    """A preset's words overlaid with explicit ``words``."""
    base: dict[str, str] = {}
    if preset is not None:
        if preset not in STATUS_PRESETS:
            raise TemplateError(
                "invalid_status_words",
                f"unknown preset {preset!r}; known: {', '.join(sorted(STATUS_PRESETS))}",
            )
        base = dict(STATUS_PRESETS[preset])
    base.update(validate_status_words(words))
    return base


# --- facts ------------------------------------------------------------------


def canonical_status(event_kind: str, payout_minor: int, entry_statuses: frozenset[str]) -> str:
    """The canonical status of an event for the affiliate's tracker (see the module doc)."""
    if (event_kind in (EventKind.CHARGEBACK, EventKind.REVERSAL) or payout_minor < 0
            or "reversed" in entry_statuses):  # e.g. its commission rejected for fraud
        return "rejected"
    if "on_hold" in entry_statuses:
        return "hold"
    if "pending" in entry_statuses:
        return "pending"
    if event_kind == EventKind.REGISTRATION:
        return "lead"
    if event_kind == EventKind.FTD:
        return "sale"
    return "rebill"


@lru_cache(maxsize=4096)  # amounts and payouts repeat: every outbox row formats two
def money_text(amount_minor: int | None, currency: str | None) -> str:
    """``12.50`` for 1250 EUR minor units; empty when there is no amount."""
    if amount_minor is None:
        return ""
    if currency is None or currency not in MINOR_UNITS:
        return str(amount_minor)
    return str(quantize(from_minor(amount_minor, currency), currency))


@lru_cache(maxsize=256)
def zero_text(currency: str | None) -> str:
    if currency is None or currency not in MINOR_UNITS:
        return "0"
    return str(quantize(Decimal(0), currency))


def pseudonymous_player_id(secret_key: str, player_id: str) -> str:
    """A stable keyed HMAC-SHA256 of our player id: trackers can count players, not find them."""
    return hmac_sha256_hex(secret_key, f"player:{player_id}".encode())[:PLAYER_ID_HEX_CHARS]


# --- rendering --------------------------------------------------------------


def macro_values(facts: PostbackFacts, words: Mapping[str, str]) -> dict[str, str]:
    """Every macro's raw (not yet encoded) value for ``facts``."""
    values = {
        "click_id": facts.click_id or "",
        "event": words.get(facts.event_kind, facts.event_kind),
        "status": words.get(facts.status, facts.status),
        "payout": facts.payout,
        "currency": facts.currency,
        "txn_id": facts.event_id,
        "player_id": facts.player_id,
        "amount": facts.amount,
        "amount_currency": facts.amount_currency,
    }
    for index, sub in enumerate(facts.subs, start=1):
        values[f"sub{index}"] = sub or ""
    return values


def render(template: str, facts: PostbackFacts, words: Mapping[str, str]) -> str:
    """``template`` with every known macro replaced by its URL-encoded value."""
    return CompiledTemplate(template, words).render(facts)


Getter = Callable[[PostbackFacts, Mapping[str, str]], str]
_GETTERS: Final[dict[str, Getter]] = {
    "click_id": lambda f, w: f.click_id or "",
    "event": lambda f, w: w.get(f.event_kind, f.event_kind),
    "status": lambda f, w: w.get(f.status, f.status),
    "payout": lambda f, w: f.payout,
    "currency": lambda f, w: f.currency,
    "txn_id": lambda f, w: f.event_id,
    "player_id": lambda f, w: f.player_id,
    "amount": lambda f, w: f.amount,
    "amount_currency": lambda f, w: f.amount_currency,
    "sub1": lambda f, w: f.subs[0] or "",
    "sub2": lambda f, w: f.subs[1] or "",
    "sub3": lambda f, w: f.subs[2] or "",
    "sub4": lambda f, w: f.subs[3] or "",
    "sub5": lambda f, w: f.subs[4] or "",
}
_URL_SAFE = re.compile(r"[A-Za-z0-9_.~-]*")  # what ``quote(value, safe="")`` leaves as it is


def _encoded(value: str) -> str:
    return value if _URL_SAFE.fullmatch(value) else quote(value, safe="")


class CompiledTemplate:
    """A template split once into literal text and macros, with its status words: rendering
    an event is then one pass over the parts (what ``render`` does, for many events)."""

    __slots__ = ("head", "slots", "words")

    def __init__(self, template: str, words: Mapping[str, str]) -> None:
        self.words = dict(words)
        pieces = _MACRO_RE.split(template)  # text, macro name, text, macro name, …, text
        self.head = pieces[0]
        self.slots: list[tuple[Getter, str]] = []
        for name, text in zip(pieces[1::2], pieces[2::2], strict=True):
            getter = _GETTERS.get(name)
            if getter is None:  # not a macro: kept as written
                self._append_text("{" + name + "}" + text)
            else:
                self.slots.append((getter, text))

    def _append_text(self, text: str) -> None:
        if self.slots:
            getter, before = self.slots[-1]
            self.slots[-1] = (getter, before + text)
        else:
            self.head += text

    def render(self, facts: PostbackFacts) -> str:
        words = self.words
        parts = [self.head]
        for getter, text in self.slots:
            parts.append(_encoded(getter(facts, words)))
            parts.append(text)
        return "".join(parts)


def webhook_payload(facts: PostbackFacts, words: Mapping[str, str]) -> dict[str, object]:
    """The Standard Webhooks body: ``{"type", "timestamp", "data"}``."""
    values = macro_values(facts, words)
    data: dict[str, object] = {
        "event_id": facts.event_id,
        "event": facts.event_kind,
        "status": facts.status,
        "status_word": values["status"],
        "payout": facts.payout,
        "currency": facts.currency,
        "txn_id": facts.event_id,
        "click_id": facts.click_id,
        "player_id": facts.player_id,
        "amount": facts.amount or None,
        "amount_currency": facts.amount_currency or None,
        "offer_id": facts.offer_id,
        "occurred_at": facts.occurred_at,
    }
    for index, sub in enumerate(facts.subs, start=1):
        data[f"sub{index}"] = sub
    return {"type": f"event.{facts.event_kind}", "timestamp": facts.occurred_at, "data": data}
