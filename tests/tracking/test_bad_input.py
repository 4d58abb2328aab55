"""Hostile or broken clicks are answered cleanly: a safe redirect or a 4xx, never a 500.

Raw requests are sent straight into the ASGI app (bytes an HTTP client would
refuse to build: invalid UTF-8, raw CR/LF, NUL), inside the running app's loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from starlette.testclient import TestClient

from clickledger.http.asgi import Message
from clickledger.runtime import Runtime
from clickledger.tracking.params import parse_query

from .conftest import click_rows

SAFE_LOCATION_BYTES = set(range(0x21, 0x7F))


@dataclass
class RawResponse:
    status: int = 0
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)

    def header(self, name: bytes) -> bytes | None:
        return next((v for k, v in self.headers if k == name), None)


def raw_get(
    client: TestClient,
    path: str,
    query: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
    peer: str = "8.8.8.8",
) -> RawResponse:
    response = RawResponse()
    scope: dict[str, Any] = {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": headers or [],
        "client": (peer, 40000),
        "server": ("127.0.0.1", 8000),
    }

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            response.status = message["status"]
            response.headers = list(message["headers"])

    async def call() -> None:
        await client.app(scope, receive, send)  # type: ignore[arg-type]

    client.portal.call(call)  # type: ignore[union-attr]
    return response


def assert_safe_redirect(response: RawResponse) -> str:
    assert response.status == 302, response.status
    location = response.header(b"location")
    assert location is not None
    assert set(location) <= SAFE_LOCATION_BYTES, location
    text = location.decode()
    assert urlsplit(text).hostname == "www.brand.example"
    return text


def test_a_query_string_over_the_limit_still_redirects_but_its_parameters_are_dropped(
    runtime: Runtime, client: TestClient
) -> None:
    query = b"sub1=" + b"a" * (runtime.settings.max_query_string_bytes + 10)
    location = assert_safe_redirect(raw_get(client, "/c/spring", query))
    assert parse_qs(urlsplit(location).query, keep_blank_values=True)["s1"] == [""]
    (row,) = click_rows(runtime.engine)
    assert row.sub1 is None
    assert "over" in row.extra["_dropped"]


def test_invalid_utf8_and_broken_percent_encoding_are_kept_as_replacement_text(
    runtime: Runtime, client: TestClient
) -> None:
    query = b"sub1=%ff%fe\xff\xc3&sub2=%zz%4&sub3=caf%C3%A9&%=x"
    assert_safe_redirect(raw_get(client, "/c/spring", query))
    (row,) = click_rows(runtime.engine)
    assert row.sub1 == "\ufffd\ufffd\ufffd\ufffd"
    assert row.sub2 == "%zz%4"
    assert row.sub3 == "café"
    assert row.extra == {"%": "x"}


def test_a_missing_or_huge_user_agent_is_stored_empty_or_capped(
    runtime: Runtime, client: TestClient
) -> None:
    assert_safe_redirect(raw_get(client, "/c/spring", b"sub1=none"))
    huge = b"Mozilla/5.0 " + b"x" * 10_240
    assert_safe_redirect(raw_get(client, "/c/spring", b"sub1=huge", [(b"user-agent", huge)]))
    none_row, huge_row = sorted(click_rows(runtime.engine), key=lambda r: r.sub1)[::-1]
    assert none_row.user_agent == "" and none_row.is_bot is False
    assert len(huge_row.user_agent) == 1024


def test_an_ipv6_client_is_recorded_and_located(runtime: Runtime, client: TestClient) -> None:
    assert_safe_redirect(raw_get(client, "/c/spring", b"", peer="2001:4860:4860::8888"))
    (row,) = click_rows(runtime.engine)
    assert row.ip == "2001:4860:4860::8888"
    assert row.country == "US"


def test_cr_lf_and_nul_in_parameters_cannot_inject_headers_or_break_storage(
    runtime: Runtime, client: TestClient
) -> None:
    query = b"sub1=a%0D%0ASet-Cookie:%20evil=1&sub2=x%00y&note=%0a%0d%00"
    response = raw_get(
        client,
        "/c/spring",
        query,
        [(b"referer", b"https://r.example/\x00"), (b"user-agent", b"UA\x01")],
    )
    location = assert_safe_redirect(response)
    assert "evil=1" not in (response.header(b"set-cookie") or b"").decode()
    assert "%0D%0A" not in location and "\r" not in location
    (row,) = click_rows(runtime.engine)
    assert row.sub1 == "aSet-Cookie: evil=1"
    assert row.sub2 == "xy"
    assert row.extra == {"note": ""}
    assert row.referrer == "https://r.example/" and row.user_agent == "UA"


def test_thousands_of_parameters_keep_only_the_first_few_and_still_redirect(
    runtime: Runtime, client: TestClient
) -> None:
    query = "&".join(f"p{i}=v" for i in range(3000)).encode()  # 22 kB: over the byte limit
    small = "&".join(f"p{i}=v" for i in range(600)).encode()[:4000] + b"&sub1=late"
    assert_safe_redirect(raw_get(client, "/c/spring", query))
    assert_safe_redirect(raw_get(client, "/c/spring", small))
    rows = click_rows(runtime.engine)
    assert len(rows) == 2
    kept = [row for row in rows if "p0" in (row.extra or {})]
    assert len(kept) == 1
    limit = runtime.settings.max_query_params
    assert len(kept[0].extra) == limit + 1  # the first ``limit`` parameters + the drop marker
    assert "_dropped" in kept[0].extra
    assert kept[0].sub1 is None  # sub1 came after the limit


def test_a_long_extra_value_is_capped(runtime: Runtime, client: TestClient) -> None:
    assert_safe_redirect(raw_get(client, "/c/spring", b"gclid=" + b"g" * 3000))
    (row,) = click_rows(runtime.engine)
    assert len(row.extra["gclid"]) == 512


def test_a_forged_visitor_cookie_is_replaced(runtime: Runtime, client: TestClient) -> None:
    response = raw_get(client, "/c/spring", b"", [(b"cookie", b"cl_vid=../../etc\r\nx; other=1")])
    cookie = response.header(b"set-cookie") or b""
    assert_safe_redirect(response)
    (row,) = click_rows(runtime.engine)
    assert cookie.startswith(f"cl_vid={row.visitor_key};".encode())
    assert len(row.visitor_key) == 36


def test_plain_and_encoded_queries_are_capped_alike() -> None:
    """A query with nothing to decode takes a shortcut; its limits are the same."""
    long_key, long_sub = "k" * 100, "s" * 300
    plain = parse_query(f"sub1={long_sub}&{long_key}=v&sub1=second".encode(), 4096, 64)
    encoded = parse_query(f"sub1={long_sub}%21&{long_key}%21=v".encode(), 4096, 64)
    assert plain.subs[0] == encoded.subs[0] == "s" * 255  # the first sub1 wins, cut to 255
    assert plain.extra == encoded.extra == {"k" * 64: "v"}
