"""Landing URLs: macro filling, URL-encoding and the allowed-domain check (no open redirect).

A landing template such as ``https://brand.example/?cid={click_id}&s={sub1}``
is compiled once (when its link is cached) into literal parts and macro names.
Every filled value is percent-encoded with no safe characters, so a value can
never add a path, query, fragment, user-info, CR/LF or another host.  The
finished URL must be ``http``/``https``, printable ASCII, and its host must
equal one of the offer's allowed domains or be a subdomain of one.  When the
template's host holds no macro the check runs once at compile time; otherwise
it runs on every filled URL.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

MACROS = ("click_id", "sub1", "sub2", "sub3", "sub4", "sub5", "affiliate_id", "offer_id")
_MACRO_RE = re.compile(r"\{(" + "|".join(MACROS) + r")\}")
# Printable ASCII a URL may keep as-is; anything else (space, non-ASCII, braces of unknown
# macros, backslash, quotes) is percent-encoded in the template's literal parts.
_LITERAL_SAFE = "".join(
    ch for ch in string.printable if ch not in string.whitespace and ch not in "{}\\\"<>^`|"
)
_NETLOC_RE = re.compile(r"^[A-Za-z0-9._~%!$&'()*+,;=:@\[\]-]+$")
_UNRESERVED_RE = re.compile(r"[A-Za-z0-9._~-]*")
MAX_LOCATION_CHARS = 8192


def encode_value(value: str) -> str:
    """``value`` percent-encoded with no safe characters (unreserved ones stay as they are)."""
    if _UNRESERVED_RE.fullmatch(value):
        return value
    return quote(value, safe="")


def normalize_domains(domains: Iterable[object]) -> tuple[str, ...]:
    """Lower-cased domains without a leading ``*.`` or ``.``; non-strings are dropped."""
    out: list[str] = []
    for domain in domains:
        if not isinstance(domain, str):
            continue
        cleaned = domain.strip().lower().removeprefix("*.").lstrip(".")
        if cleaned:
            out.append(cleaned)
    return tuple(out)


def host_allowed(url: str, allowed_domains: tuple[str, ...]) -> bool:
    """True when ``url`` is a plain http(s) URL whose host is within ``allowed_domains``."""
    if len(url) > MAX_LOCATION_CHARS or not url.isascii() or not url.isprintable() or " " in url:
        return False
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not host or not _NETLOC_RE.match(parts.netloc):
        return False
    return any(host == domain or host.endswith("." + domain) for domain in allowed_domains)


def safe_fallback(url: str | None) -> str | None:
    """A brand's fallback URL when it is a plain http(s) URL, else None."""
    if not url:
        return None
    if not url.isascii() or not url.isprintable() or " " in url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if not _NETLOC_RE.match(parts.netloc):
        return None
    return url


@dataclass(frozen=True, slots=True)
class LandingTemplate:
    """A compiled landing URL: literal parts and macro names, alternating (literal first)."""

    parts: tuple[str, ...]
    allowed_domains: tuple[str, ...]
    static_host_ok: bool | None  # None: the host holds a macro, check every filled URL

    @classmethod
    def compile(cls, template: str, allowed_domains: tuple[str, ...]) -> LandingTemplate:
        pieces = _MACRO_RE.split(template)
        parts = tuple(
            quote(piece, safe=_LITERAL_SAFE) if index % 2 == 0 else piece
            for index, piece in enumerate(pieces)
        )
        static_host_ok: bool | None = None
        if len(parts) == 1 or _host_is_literal(parts[0]):
            probe = "".join(p if i % 2 == 0 else "x" for i, p in enumerate(parts))
            static_host_ok = host_allowed(probe, allowed_domains)
        return cls(parts, allowed_domains, static_host_ok)

    def fill(self, values: Mapping[str, str]) -> str | None:
        """The landing URL with each macro replaced by its encoded value; None if not allowed."""
        if self.static_host_ok is False:
            return None
        parts = self.parts
        if len(parts) == 1:
            url = parts[0]
        else:
            out = [parts[0]]
            for index in range(1, len(parts), 2):
                out.append(encode_value(values.get(parts[index], "")))
                out.append(parts[index + 1])
            url = "".join(out)
        if self.static_host_ok is None and not host_allowed(url, self.allowed_domains):
            return None
        if len(url) > MAX_LOCATION_CHARS:
            return None
        return url


def _host_is_literal(first_literal: str) -> bool:
    """True when the authority ends inside the template's first literal part."""
    scheme_end = first_literal.find("://")
    if scheme_end < 0:
        return False
    rest = first_literal[scheme_end + 3 :]
    return any(sep in rest for sep in "/?#")
