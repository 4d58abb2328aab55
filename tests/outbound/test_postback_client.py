"""The dispatcher's HTTP client keeps one connection per origin alive and reuses it, never
has more requests in flight than connections, gives a connection back whatever happens,
keeps no cookies, and maps a silent or absent target to httpx's timeout and connect errors
(real sockets on 127.0.0.1, over the asyncio network backend)."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from tests.workers.receiver import serving

from clickledger.http.asgi import Receive, Scope, Send, read_body
from clickledger.outbound.postback_client import (
    ConnectionSlots,
    guarded_pools,
    postback_client,
)
from clickledger.outbound.ssrf import TargetGuard, guarded_transport

LOOPBACK = TargetGuard(allow_loopback=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_recorder(client_ports: list[int]) -> Any:
    """A tracker that notes the client port of each request (one port = one connection)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await read_body(receive)
        client_ports.append(scope["client"][1])
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"2"),
                                (b"set-cookie", b"session=affiliate-a; Path=/")]})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


@contextmanager
def tracker(client_ports: list[int]) -> Iterator[str]:
    with serving(port_recorder(client_ports), free_port()) as base:
        yield base


async def get_all(urls: list[str], max_connections: int) -> list[int]:
    client = postback_client(guarded_pools(LOOPBACK, max_connections), 5.0, "test")
    async with client:
        return [(await client.get(url)).status_code for url in urls]


def test_one_tracker_is_reached_over_one_kept_alive_connection() -> None:
    ports: list[int] = []
    with tracker(ports) as base:
        codes = asyncio.run(get_all([f"{base}/pb?tid={i}" for i in range(20)], 4))
    assert codes == [200] * 20
    assert len(set(ports)) == 1


def test_each_tracker_keeps_its_own_connection_when_deliveries_alternate() -> None:
    ports_a: list[int] = []
    ports_b: list[int] = []
    with tracker(ports_a) as a, tracker(ports_b) as b:
        urls = [f"{(a, b)[i % 2]}/pb?tid={i}" for i in range(20)]
        asyncio.run(get_all(urls, 2))
    assert len(ports_a) == len(ports_b) == 10
    assert len(set(ports_a)) == len(set(ports_b)) == 1


def test_a_cookie_set_by_a_tracker_is_never_sent_back() -> None:
    seen: list[str | None] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("cookie"))
        return httpx.Response(200, headers={"set-cookie": "session=affiliate-a; Path=/"})

    async def twice() -> None:
        async with postback_client(httpx.MockTransport(handler), 5.0, "test") as client:
            await client.get("https://tracker.example/a")
            await client.get("https://tracker.example/b")

    asyncio.run(twice())
    assert seen == [None, None]


class CountingTransport(httpx.AsyncBaseTransport):
    """Answers after a short pause; remembers the most requests it ever had at once."""

    def __init__(self, fail_first: int = 0) -> None:
        self.in_flight = 0
        self.most_in_flight = 0
        self.fail_first = fail_first

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.005)
            if self.fail_first > 0:
                self.fail_first -= 1
                raise httpx.ConnectError("refused", request=request)
            return httpx.Response(200, content=b"ok")
        finally:
            self.in_flight -= 1


def test_never_more_requests_in_flight_than_connections() -> None:
    counting = CountingTransport()
    slots = ConnectionSlots(lambda: counting, 3)

    async def burst() -> list[int]:
        async with httpx.AsyncClient(transport=slots) as client:
            responses = await asyncio.gather(
                *(client.get(f"https://tracker.example/{i}") for i in range(20)))
            return [r.status_code for r in responses]

    assert asyncio.run(burst()) == [200] * 20
    assert counting.most_in_flight == 3


def test_a_failed_request_gives_its_connection_back() -> None:
    counting = CountingTransport(fail_first=3)
    slots = ConnectionSlots(lambda: counting, 1)

    async def in_turn() -> list[str]:
        outcomes = []
        async with httpx.AsyncClient(transport=slots) as client:
            for i in range(5):
                try:
                    response = await asyncio.wait_for(
                        client.get(f"https://tracker.example/{i}"), 2.0)
                    outcomes.append(str(response.status_code))
                except httpx.ConnectError:
                    outcomes.append("refused")
        return outcomes

    assert asyncio.run(in_turn()) == ["refused"] * 3 + ["200"] * 2


def test_a_silent_target_times_out_and_a_closed_port_is_a_connect_error() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        silent_url = f"http://127.0.0.1:{silent.getsockname()[1]}/pb"
        closed_url = f"http://127.0.0.1:{free_port()}/pb"

        async def try_both() -> None:
            client = postback_client(guarded_pools(LOOPBACK, 2), 0.3, "test")
            async with client:
                with pytest.raises(httpx.ReadTimeout):
                    await client.get(silent_url)
                with pytest.raises(httpx.ConnectError):
                    await client.get(closed_url)

        asyncio.run(try_both())


def test_without_the_loopback_setting_no_connection_is_opened_to_loopback() -> None:
    ports: list[int] = []
    with tracker(ports) as base:
        async def refused() -> None:
            async with postback_client(guarded_pools(TargetGuard(), 2), 5.0, "t") as client:
                with pytest.raises(httpx.ConnectError, match="loopback"):
                    await client.get(f"{base}/pb")

        asyncio.run(refused())
    assert ports == []


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (its own CA) and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return cert_file, key_file


@contextmanager
def tls_tracker(client_ports: list[int], cert_file: Path, key_file: Path) -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(port_recorder(client_ports), host="127.0.0.1", port=port,
                            log_level="error", lifespan="off", access_log=False,
                            ssl_certfile=str(cert_file), ssl_keyfile=str(key_file))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "TLS receiver did not start"
        time.sleep(0.01)
    try:
        yield f"https://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def test_an_https_tracker_is_reached_over_one_verified_kept_alive_connection(
    tmp_path: Path,
) -> None:
    cert_file, key_file = self_signed(tmp_path)
    trusting = ssl.create_default_context(cafile=str(cert_file))
    ports: list[int] = []

    async def five(base: str) -> list[int]:
        slots = ConnectionSlots(lambda: guarded_transport(LOOPBACK, 1, trusting), 2)
        async with postback_client(slots, 5.0, "test") as client:
            return [(await client.get(f"{base}/pb?tid={i}")).status_code for i in range(5)]

    async def untrusted(base: str) -> None:
        async with postback_client(guarded_pools(LOOPBACK, 2), 5.0, "test") as client:
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await client.get(f"{base}/pb")

    with tls_tracker(ports, cert_file, key_file) as base:
        assert asyncio.run(five(base)) == [200] * 5
        asyncio.run(untrusted(base))
    assert len(ports) == 5 and len(set(ports)) == 1
