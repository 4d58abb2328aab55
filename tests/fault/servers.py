"""Real ``clickledger serve`` / ``clickledger worker`` processes on 127.0.0.1 for fault tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

import httpx

SECRET_KEY = "fault-tests-secret-key-0123456789abcdefgh"  # 40 characters
STARTUP_S = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def env_for(database_url: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "CLICKLEDGER_SECRET_KEY": SECRET_KEY,
            "CLICKLEDGER_DATABASE_URL": database_url, **extra}


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base: str

    def kill9(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill9()


def start_server(database_url: str) -> Server:
    """A ``clickledger serve`` on a free port, answering ``/healthz``."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "clickledger", "serve", "--port", str(port)],
        env=env_for(database_url), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = Server(process, f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited during startup with {process.returncode}")
        try:
            if httpx.get(server.base + "/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.1)
    server.kill9()
    raise RuntimeError("server did not start")
