"""Sign-in for people: argon2 password hashes, server-side sessions and CSRF tokens.

The session cookie carries 32 random bytes; only their SHA-256 is stored in
``web_sessions`` (so a database leak gives no live session), with the
session's CSRF token and expiry.  Logout revokes the row.  Before sign-in the
login form is protected by a double-submit token: a cookie signed with
``settings.secret_key`` (itsdangerous) that must equal the form field.
API keys stay for machines; a person acts as a ``Principal`` built here.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer

from clickledger.clock import utc
from clickledger.domain.roles import Principal, Role
from clickledger.ids import new_id
from clickledger.store import tables as t
from clickledger.store.api_keys import descendant_ids

SESSION_COOKIE = "cl_session"
LOGIN_CSRF_COOKIE = "cl_login_csrf"
SESSION_HOURS = 12
LOGIN_TOKEN_MAX_AGE_S = 3600
MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 256
PEOPLE_ROLES = (Role.MANAGER, Role.FINANCE, Role.AFFILIATE)

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not-a-real-password-only-for-timing")


class UserError(ValueError):
    """A user that cannot be created as asked."""


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in person: who, as which principal, and the CSRF token of their forms."""

    user_id: str
    email: str
    principal: Principal
    csrf_token: str


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(conn: sa.Connection, *, email: str, password: str, role: Role,
                affiliate_id: str | None, now: datetime) -> str:
    """Add a person who can sign in; returns the user id."""
    email = email.strip().lower()
    if "@" not in email or len(email) > 320:
        raise UserError("an email address is required")
    if role not in PEOPLE_ROLES:
        raise UserError("people are managers, finance or affiliates")
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise UserError(f"a password has {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters")
    if (role is Role.AFFILIATE) != (affiliate_id is not None):
        raise UserError("an affiliate user needs --affiliate-id; other roles must not have one")
    if affiliate_id is not None and conn.execute(
            sa.select(t.affiliates.c.id).where(t.affiliates.c.id == affiliate_id)).first() is None:
        raise UserError("no such affiliate")
    if conn.execute(sa.select(t.users.c.id).where(t.users.c.email == email)).first():
        raise UserError("a user with this email exists")
    user_id = new_id()
    conn.execute(t.users.insert().values(
        id=user_id, email=email, password_hash=_hasher.hash(password), role=role.value,
        affiliate_id=affiliate_id, created_at=now))
    return user_id


def check_password(conn: sa.Connection, email: str, password: str) -> str | None:
    """The user id when ``password`` is right for an enabled user; None otherwise.

    An unknown email costs the same hash as a known one (no user enumeration by timing).
    """
    row = conn.execute(sa.select(t.users).where(
        t.users.c.email == email.strip().lower()[:320])).first()
    if row is None or row.disabled_at is not None:
        _verify(_DUMMY_HASH, password)
        return None
    if not _verify(row.password_hash, password[:MAX_PASSWORD_CHARS]):
        return None
    if _hasher.check_needs_rehash(row.password_hash):
        conn.execute(t.users.update().where(t.users.c.id == row.id).values(
            password_hash=_hasher.hash(password)))
    return str(row.id)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def start_session(conn: sa.Connection, user_id: str, now: datetime) -> str:
    """A new session for ``user_id``; returns the cookie value (never stored as such)."""
    token = secrets.token_urlsafe(32)
    conn.execute(t.web_sessions.insert().values(
        token_hash=_token_hash(token), user_id=user_id, csrf_token=secrets.token_urlsafe(32),
        created_at=now, expires_at=now + timedelta(hours=SESSION_HOURS)))
    return token


def load_session(conn: sa.Connection, token: str | None, now: datetime) -> Session | None:
    """The live session behind the cookie, or None (absent, expired, revoked, disabled)."""
    if not token or len(token) > 200:
        return None
    s, u = t.web_sessions.c, t.users.c
    row = conn.execute(
        sa.select(s.user_id, s.csrf_token, s.expires_at, s.revoked_at, u.email, u.role,
                  u.affiliate_id, u.disabled_at)
        .select_from(t.web_sessions.join(t.users, u.id == s.user_id))
        .where(s.token_hash == _token_hash(token))).first()
    if row is None or row.revoked_at is not None or row.disabled_at is not None:
        return None
    if utc(row.expires_at) <= now:
        return None
    role = Role(row.role)
    affiliate_id = str(row.affiliate_id) if row.affiliate_id else None
    visible = (descendant_ids(conn, affiliate_id)
               if role is Role.AFFILIATE and affiliate_id else None)
    if role is Role.AFFILIATE and visible is None:
        return None
    principal = Principal(key_id=f"user:{row.user_id}", role=role, name=str(row.email),
                          affiliate_id=affiliate_id, visible_affiliate_ids=visible)
    return Session(str(row.user_id), str(row.email), principal, str(row.csrf_token))


def end_session(conn: sa.Connection, token: str | None, now: datetime) -> None:
    """Revoke the session behind the cookie (logout)."""
    if token:
        conn.execute(t.web_sessions.update().where(
            t.web_sessions.c.token_hash == _token_hash(token),
            t.web_sessions.c.revoked_at.is_(None)).values(revoked_at=now))


def same_token(expected: str, given: str | None) -> bool:
    """Constant-time comparison of a CSRF token."""
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())


class LoginTokens:
    """Double-submit CSRF tokens for the login form, signed with the secret key."""

    def __init__(self, secret_key: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt="clickledger-login-csrf")

    def issue(self) -> tuple[str, str]:
        """(cookie value, form value): the signed cookie and the raw token."""
        raw = secrets.token_urlsafe(24)
        return self._serializer.dumps(raw), raw

    def check(self, cookie: str | None, form_value: str | None) -> bool:
        if not cookie or not form_value:
            return False
        try:
            raw = self._serializer.loads(cookie, max_age=LOGIN_TOKEN_MAX_AGE_S)
        except BadSignature:
            return False
        return isinstance(raw, str) and same_token(raw, form_value)
