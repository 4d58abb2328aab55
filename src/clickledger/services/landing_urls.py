"""Rules for the URLs a click may be sent to: macros, schemes and allowed domains.

A landing URL is a template such as
``https://casino.example/?btag={click_id}&s={sub1}``; only the known macros
may appear, never in the host, and the host must be one of the offer's
allowed domains (``*.example.com`` admits sub-domains).  That is what keeps a
tracking link from being an open redirect.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

MACROS: frozenset[str] = frozenset(
    {"click_id", "affiliate_id", "offer_id", "sub1", "sub2", "sub3", "sub4", "sub5"}
)
MAX_URL_LENGTH = 2000
MAX_ALLOWED_DOMAINS = 50
ALLOWED_SCHEMES = ("http", "https")

_MACRO = re.compile(r"\{([^{}]*)\}")
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_HOSTNAME = re.compile(rf"^(\*\.)?{_LABEL}(\.{_LABEL})*$")


class UrlRuleError(ValueError):
    """A URL or domain that breaks a rule; ``code`` says which."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def normalize_domain(domain: str) -> str:
    """A lower-case host name, optionally ``*.``-prefixed; raises UrlRuleError otherwise."""
    value = domain.strip().lower().rstrip(".")
    if len(value) > 253 or not _HOSTNAME.match(value):
        raise UrlRuleError("invalid_domain", f"not a host name: {domain!r}")
    return value


def normalize_domains(domains: list[str]) -> list[str]:
    """Each domain checked, duplicates dropped, order kept; 1 to ``MAX_ALLOWED_DOMAINS``."""
    if not domains:
        raise UrlRuleError("invalid_domain", "at least one allowed domain is needed")
    if len(domains) > MAX_ALLOWED_DOMAINS:
        raise UrlRuleError("invalid_domain", f"at most {MAX_ALLOWED_DOMAINS} allowed domains")
    return list(dict.fromkeys(normalize_domain(domain) for domain in domains))


def _check_macros(template: str, allow_macros: bool) -> str:
    """``template`` with each macro replaced by a harmless placeholder, for parsing."""
    names = _MACRO.findall(template)
    if names and not allow_macros:
        raise UrlRuleError("invalid_url", "macros are not allowed in this URL")
    unknown = sorted({name for name in names if name not in MACROS})
    if unknown:
        raise UrlRuleError("unknown_macro", f"unknown macro(s): {', '.join(unknown)}")
    filled = _MACRO.sub("x", template)
    if "{" in filled or "}" in filled:
        raise UrlRuleError("invalid_url", "unbalanced braces in URL")
    return filled


def url_host(template: str, allow_macros: bool = True) -> str:
    """Check ``template`` is an absolute http(s) URL and return its lower-case host."""
    if len(template) > MAX_URL_LENGTH:
        raise UrlRuleError("invalid_url", f"URL longer than {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 32 for ch in template):
        raise UrlRuleError("invalid_url", "URL contains whitespace or control characters")
    filled = _check_macros(template, allow_macros)
    try:
        parts = urlsplit(filled)
        port = parts.port
    except ValueError as exc:
        raise UrlRuleError("invalid_url", f"not a URL: {exc}") from exc
    del port
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise UrlRuleError("url_scheme_not_allowed", "only http and https URLs are allowed")
    if "@" in parts.netloc or not parts.hostname:
        raise UrlRuleError("invalid_url", "URL needs a host and no user information")
    if "{" in urlsplit(template).netloc:
        raise UrlRuleError("invalid_url", "macros are not allowed in the host")
    return parts.hostname.lower().rstrip(".")


def host_allowed(host: str, allowed_domains: list[str]) -> bool:
    """True when ``host`` equals an allowed domain or falls under a ``*.`` entry."""
    for domain in allowed_domains:
        if domain.startswith("*."):
            if host.endswith(domain[1:]):
                return True
        elif host == domain:
            return True
    return False


def check_landing_url(template: str, allowed_domains: list[str]) -> None:
    """Raise UrlRuleError unless ``template`` is a valid landing URL on an allowed domain."""
    host = url_host(template)
    if not host_allowed(host, allowed_domains):
        raise UrlRuleError(
            "domain_not_allowed", f"landing URL host {host!r} is not in the allowed domains"
        )
