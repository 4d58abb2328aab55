"""The two commands a new user runs: ``clickledger serve`` refuses an insecure secret, and
``clickledger demo`` starts a server on a fresh SQLite file with working API keys."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

CLI = [sys.executable, "-m", "clickledger"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLICKLEDGER_")}
    env.update(extra)
    return env


def test_serve_refuses_to_start_without_a_real_secret_key(tmp_path: Path) -> None:
    result = subprocess.run(
        [*CLI, "serve", "--database-url", f"sqlite:///{tmp_path / 'x.db'}"],
        capture_output=True, text=True, timeout=60, env=_env(),
    )
    assert result.returncode == 2
    assert "CLICKLEDGER_SECRET_KEY" in result.stdout + result.stderr


def test_serve_with_a_secret_key_creates_the_database_and_answers(tmp_path: Path) -> None:
    port = _free_port()
    db = tmp_path / "first-run.db"
    server = subprocess.Popen(
        [*CLI, "serve", "--port", str(port), "--database-url", f"sqlite:///{db}"],
        env=_env(CLICKLEDGER_SECRET_KEY="s" * 40),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        assert _wait_healthy(port)
        assert db.exists()
    finally:
        server.terminate()
        server.wait(timeout=30)


def _wait_healthy(port: int, timeout_s: float = 90) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            time.sleep(0.1)
    return False


def test_demo_serves_a_seeded_programme_and_prints_working_keys(tmp_path: Path) -> None:
    port = _free_port()
    demo = subprocess.Popen(
        [*CLI, "demo", "--port", str(port), "--database", str(tmp_path / "demo.db"),
         "--exit-after-s", "60"],
        env=_env(COLUMNS="200"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert _wait_healthy(port)
        assert demo.stdout is not None
        lines: list[str] = []
        while not any("try: curl" in line for line in lines):
            lines.append(demo.stdout.readline())
        output = "".join(lines)
        manager_key = re.search(r"manager\s+(cl_\S+)", output)
        assert manager_key, output
        answer = httpx.get(f"http://127.0.0.1:{port}/api/v1/me",
                           headers={"authorization": f"Bearer {manager_key.group(1)}"})
        assert answer.status_code == 200
        assert answer.json()["role"] == "manager"
    finally:
        demo.terminate()
        demo.wait(timeout=30)
