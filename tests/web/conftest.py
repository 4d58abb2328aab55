"""The role-matrix programme (Alice with a sub-affiliate, Bob), a signed-in person per role,
and traffic sent through the real click and postback paths of the in-process app."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from fastapi.testclient import TestClient
from tests.http.conftest import World, build_world

from clickledger.domain.roles import Role
from clickledger.http.app import create_app
from clickledger.ingest import signatures
from clickledger.runtime import Runtime
from clickledger.web import auth

PASSWORD = "correct horse battery"
EMAILS = {"manager": "boss@example.com", "finance": "money@example.com",
          "affiliate_a": "alice@example.com", "affiliate_b": "bob@example.com"}


@dataclass
class Site:
    world: World
    client: TestClient

    def sign_in(self, role: str, client: TestClient | None = None) -> TestClient:
        http = client or self.client
        http.cookies.clear()
        form = http.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None
        answer = http.post("/login", data={"email": EMAILS[role], "password": PASSWORD,
                                           "csrf_token": token.group(1)},
                           follow_redirects=False)
        assert answer.status_code == 303, answer.text
        return http

    def click(self, code: str, *, ua: str = "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0",
              referrer: str = "https://news.example/", ip: str = "8.8.8.8",
              **subs: str) -> str:
        """A real click on /c/<code>; returns the click id from the landing URL."""
        query = f"?{urlencode(subs)}" if subs else ""
        kept = dict(self.client.cookies)  # each click is a new visitor (no click cookie kept)
        answer = self.client.get(f"/c/{code}{query}", follow_redirects=False,
                                 headers={"user-agent": ua, "referer": referrer,
                                          "x-forwarded-for": ip})
        assert answer.status_code in (302, 303, 307), answer.text
        self.client.cookies.clear()
        self.client.cookies.update(kept)
        landing = parse_qs(urlsplit(answer.headers["location"]).query)
        return landing["btag"][0]

    def postback(self, **params: str) -> dict[str, str]:
        """A signed GET /postback from the world's integration."""
        ts = str(int(self.world.runtime.clock.now().timestamp()))
        query = urlencode({**params, "cl_key": self.world.integration_id, "cl_ts": ts})
        sig = signatures.sign("s" * 32, ts, "GET", "/postback", query, b"")
        answer = self.client.get(f"/postback?{query}&cl_sig={sig}")
        assert answer.status_code == 200, answer.text
        body: dict[str, str] = answer.json()
        return body


def add_users(runtime: Runtime, world: World) -> None:
    now = runtime.clock.now()
    with runtime.engine.begin() as conn:
        for role, email in EMAILS.items():
            affiliate = {"affiliate_a": world.affiliate_a,
                         "affiliate_b": world.affiliate_b}.get(role)
            person = Role.AFFILIATE if affiliate else Role(role)
            auth.create_user(conn, email=email, password=PASSWORD, role=person,
                             affiliate_id=affiliate, now=now)


@pytest.fixture
def site(runtime: Runtime) -> Iterator[Site]:
    world = build_world(runtime)
    add_users(runtime, world)
    with TestClient(create_app(runtime)) as client:
        yield Site(world, client)
