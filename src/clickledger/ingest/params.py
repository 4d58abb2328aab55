"""Reading event parameters from a query string, a form body or a JSON object, strictly.

Bytes that are not UTF-8, malformed percent-escapes, too many parameters,
repeated names and non-scalar JSON values are refused with a reason code;
numbers in JSON are kept as their exact text (never float).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from clickledger.ingest.validate import Invalid

AUTH_PARAMS = frozenset({"cl_key", "cl_ts", "cl_sig"})


def decode_query(raw: bytes, max_bytes: int) -> str:
    """The raw query string as text; only ASCII is valid on the wire."""
    if len(raw) > max_bytes:
        raise Invalid("query_too_long", f"the query string is over {max_bytes} bytes", 414)
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError as exc:
        raise Invalid("invalid_encoding", "the query string has raw non-ASCII bytes", 400) from exc


def parse_pairs(text: str, max_params: int) -> list[tuple[str, str]]:
    """Name/value pairs from ``a=1&b=2`` (UTF-8 percent-escapes, ``+`` as space).

    A query without ``%`` or ``+`` has nothing to decode: it is split directly,
    exactly as ``parse_qsl`` would split it (empty parts skipped, a part without
    ``=`` has an empty value), without its per-part unquoting.
    """
    if "%" not in text and "+" not in text:
        if text.count("&") + 1 > max_params:
            raise Invalid("too_many_parameters", f"more than {max_params} parameters", 400)
        return [(name, value) for name, _, value in
                (part.partition("=") for part in text.split("&") if part)]
    try:
        return parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict",
                         max_num_fields=max_params)
    except UnicodeDecodeError as exc:
        raise Invalid("invalid_encoding", "a parameter is not valid UTF-8", 400) from exc
    except ValueError as exc:
        raise Invalid("too_many_parameters", f"more than {max_params} parameters", 400) from exc


def plain_params(text: str, max_params: int) -> dict[str, str] | None:
    """``to_dict(parse_pairs(text, max_params))`` for the usual query, in one split and one
    dict: ASCII with nothing to decode (no ``%`` or ``+``), no NUL,
    no empty part, every part with its ``=``, no name repeated.  None for any other query
    (the caller takes the full path); raises like ``parse_pairs`` over ``max_params``."""
    if "%" in text or "+" in text or "\x00" in text or not text.isascii():
        return None
    parts = text.split("&")
    if len(parts) > max_params:
        raise Invalid("too_many_parameters", f"more than {max_params} parameters", 400)
    try:
        params = dict([part.split("=", 1) for part in parts])  # no "=": one item, refused
    except ValueError:
        return None
    return params if len(params) == len(parts) else None


def clean(text: str) -> str:
    """``text`` if it can be stored anywhere: no NUL, no lone surrogates."""
    if "\x00" in text:
        raise Invalid("invalid_encoding", "a parameter contains a NUL character", 400)
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise Invalid("invalid_encoding", "a parameter is not valid Unicode", 400) from exc
    return text


def to_dict(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Pairs as a dict; a repeated name is ambiguous and refused."""
    params = dict(pairs)
    if len(params) == len(pairs):  # nothing repeated: every name and value is in ``params``
        text = "".join(params) + "".join(params.values())
        if text.isascii() and "\x00" not in text:
            return params  # the usual case: nothing to clean
    params = {}
    for name, value in pairs:  # find the first problem, in order
        if name in params:
            raise Invalid("duplicate_parameter", f"parameter {name!r} is given twice", 400)
        params[clean(name)] = clean(value)
    return params


def without_auth(params: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in params.items() if k not in AUTH_PARAMS}


def drop_auth(params: dict[str, str]) -> dict[str, str]:
    """``params`` itself, its authentication parameters removed (``without_auth`` in place)."""
    for name in _AUTH_PARAM_ORDER:
        params.pop(name, None)
    return params


_AUTH_PARAM_ORDER = tuple(sorted(AUTH_PARAMS))


def _scalar(name: str, value: Any) -> str:
    if isinstance(value, str):
        return clean(value)
    raise Invalid("invalid_field_type", f"{name} must be a string or a number", 422)


def object_params(item: Any, max_params: int) -> dict[str, str]:
    """A JSON object of scalars as text parameters (numbers arrive as text already)."""
    if not isinstance(item, dict):
        raise Invalid("invalid_item", "each event must be a JSON object", 422)
    if len(item) > max_params:
        raise Invalid("too_many_parameters", f"more than {max_params} fields", 422)
    return {clean(str(name)): _scalar(str(name), value) for name, value in item.items()
            if value is not None}


def load_json(body: bytes) -> Any:
    """Parse JSON with exact numbers: integers and decimals stay text."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Invalid("invalid_encoding", "the body is not UTF-8", 400) from exc
    try:
        return json.loads(text, parse_float=str, parse_int=str,
                          parse_constant=_refuse_constant)
    except ValueError as exc:
        raise Invalid("invalid_json", f"the body is not JSON: {exc}", 400) from exc


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def body_params(body: bytes, content_type: bytes | None, max_params: int) -> dict[str, str]:
    """Parameters of a POST body: a form (urlencoded) or a JSON object."""
    if not body:
        return {}
    kind = (content_type or b"").split(b";")[0].strip().lower()
    if kind == b"application/json":
        return object_params(load_json(body), max_params)
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError as exc:
        raise Invalid("invalid_encoding", "a form body must be percent-encoded ASCII", 400) from exc
    return to_dict(parse_pairs(text, max_params))
