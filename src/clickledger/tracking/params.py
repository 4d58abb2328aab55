"""Reads a click's query string and headers into bounded, storable text.

Everything here is attacker-controlled.  Limits are explicit: a query string
over ``max_query_bytes`` is ignored as a whole (the click still counts, with
the link's default sub-ids); at most ``max_params`` parameters are read; each
value is cut to its column size; control characters (NUL, CR, LF …) are
removed, so no value can break a header, a PostgreSQL text column or a log line.
Invalid UTF-8 and invalid percent-encoding decode to U+FFFD or stay literal.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote_plus

SUB_KEYS = ("sub1", "sub2", "sub3", "sub4", "sub5")
_SUB_INDEX = {key: index for index, key in enumerate(SUB_KEYS)}

SUB_MAX_CHARS = 255
EXTRA_KEY_MAX_CHARS = 64
EXTRA_VALUE_MAX_CHARS = 512
USER_AGENT_MAX_CHARS = 1024
REFERRER_MAX_CHARS = 2048
ACCEPT_LANGUAGE_MAX_CHARS = 255
DROPPED_MARKER = "_dropped"

_CONTROL_CHARS = {code: None for code in (*range(0x20), 0x7F)}


def _decode(text: str) -> str:
    """Percent/plus-decode one query component (fast when there is nothing to decode)."""
    if "%" in text or "+" in text:
        return unquote_plus(text, errors="replace")
    return text


def clean(text: str, max_chars: int) -> str:
    """``text`` without control characters, cut to ``max_chars``."""
    if not text.isprintable():
        text = text.translate(_CONTROL_CHARS)
    return text[:max_chars]


def header_text(raw: bytes, max_chars: int) -> str:
    """A header value as clean text (UTF-8, invalid bytes replaced)."""
    return clean(raw[: max_chars * 4].decode("utf-8", "replace"), max_chars)


@dataclass(slots=True)
class ClickQuery:
    """The sub-ids and the other parameters of one click (``None`` = not given)."""

    subs: list[str | None]
    extra: dict[str, str] | None


def parse_query(query: bytes, max_query_bytes: int, max_params: int) -> ClickQuery:
    """Split ``query`` into ``sub1``..``sub5`` and a bounded ``extra`` mapping."""
    subs: list[str | None] = [None, None, None, None, None]
    if not query:
        return ClickQuery(subs, None)
    if len(query) > max_query_bytes:
        return ClickQuery(subs, {DROPPED_MARKER: f"query string over {max_query_bytes} bytes"})
    text = query.decode("utf-8", "replace")
    # The common query (nothing encoded, printable) needs no decoding or cleaning per part.
    plain = "%" not in text and "+" not in text and text.isprintable()
    pairs = text.split("&", max_params)
    extra: dict[str, str] = {}
    if len(pairs) > max_params:
        pairs.pop()
        extra[DROPPED_MARKER] = f"parameters after the first {max_params}"
    sub_index = _SUB_INDEX
    for pair in pairs:
        raw_key, _, raw_value = pair.partition("=")
        key = (
            raw_key[:EXTRA_KEY_MAX_CHARS] if plain else clean(_decode(raw_key), EXTRA_KEY_MAX_CHARS)
        )
        if not key:
            continue
        index = sub_index.get(key)
        if index is not None:
            if subs[index] is None:
                subs[index] = (
                    raw_value[:SUB_MAX_CHARS] if plain else clean(_decode(raw_value), SUB_MAX_CHARS)
                )
        elif key not in extra:
            extra[key] = (
                raw_value[:EXTRA_VALUE_MAX_CHARS]
                if plain
                else clean(_decode(raw_value), EXTRA_VALUE_MAX_CHARS)
            )
    return ClickQuery(subs, extra or None)
