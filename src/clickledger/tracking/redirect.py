"""Landing URLs: macro filling, URL-encoding and the allowed-domain check (no open redirect).

A landing template such as ``https://brand.example/?cid={click_id}&s={sub1}``
is compiled once (when its link is cached) into literal parts and macro names;
the link's own affiliate and offer ids go into the literal parts right then.
Every filled value is percent-encoded with no safe characters, so a value can
never add a path, query, fragment, user-info, CR/LF or another host (the click
id is the one exception: this process minted it, canonical id text).  The
finished URL must be ``http``/``https``, printable ASCII, and its host must
equal one of the offer's allowed domains or be a subdomain of one.  When the
template's host holds no macro the check runs once at compile time; otherwise
it runs on every filled URL.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

MACROS = ("click_id", "sub1", "sub2", "sub3", "sub4", "sub5", "affiliate_id", "offer_id")
_MACRO_AT = {name: index for index, name in enumerate(MACROS)}
CLICK_ID_AT = _MACRO_AT["click_id"]
_MACRO_RE = re.compile(r"\{(" + "|".join(MACROS) + r")\}")
# Printable ASCII a URL may keep as-is; anything else (space, non-ASCII, braces of unknown
# macros, backslash, quotes) is percent-encoded in the template's literal parts.
_LITERAL_SAFE = "".join(
    ch for ch in string.printable if ch not in string.whitespace and ch not in '{}\\"<>^`|'
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
    """A compiled landing URL: literal parts and macro names, alternating (literal first).

    Macros whose value is fixed for the link (its affiliate and offer ids) are filled
    in when it is compiled, so a click fills only its own values.
    """

    parts: tuple[str, ...]
    allowed_domains: tuple[str, ...]
    static_host_ok: bool | None  # None: the host holds a macro, check every filled URL
    slots: tuple[int, ...]  # per macro left in ``parts``: its position in ``MACROS``

    @classmethod
    def compile(
        cls,
        template: str,
        allowed_domains: tuple[str, ...],
        fixed: Mapping[str, str] | None = None,
    ) -> LandingTemplate:
        pieces = _MACRO_RE.split(template)
        parts = [quote(pieces[0], safe=_LITERAL_SAFE)]
        for index in range(1, len(pieces), 2):
            name, literal = pieces[index], quote(pieces[index + 1], safe=_LITERAL_SAFE)
            if fixed is not None and name in fixed:
                parts[-1] += encode_value(fixed[name]) + literal
            else:
                parts += (name, literal)
        static_host_ok: bool | None = None
        if len(parts) == 1 or _host_is_literal(parts[0]):
            probe = "".join(p if i % 2 == 0 else "x" for i, p in enumerate(parts))
            static_host_ok = host_allowed(probe, allowed_domains)
        slots = tuple(_MACRO_AT[name] for name in parts[1::2])
        return cls(tuple(parts), allowed_domains, static_host_ok, slots)

    def fill(self, values: Sequence[str]) -> str | None:
        """The landing URL with each macro replaced by its encoded value (``values`` in
        ``MACROS`` order); None if not allowed.  The click id is one this process minted
        (canonical id text, or empty): it is the one value not encoded."""
        if self.static_host_ok is False:
            return None
        parts = self.parts
        if len(parts) == 1:
            url = parts[0]
        else:
            out = [parts[0]]
            index = 2
            for at in self.slots:
                value = values[at]
                out.append(value if at == CLICK_ID_AT else encode_value(value))
                out.append(parts[index])
                index += 2
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
